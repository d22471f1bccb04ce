"""Videos each worker decodes under MultiWorkerMirroredStrategy, with train.py's input.

    python -m benchmarks.worker_input [--steps 20] [--batch-size 8]

Starts 2 local workers (TF_CONFIG on 127.0.0.1) that build the training input as
``hdc.pretrain.distributed_dataset`` does on the built-in synthetic dataset, pull
``--steps`` global batches through the strategy, and count the records each worker
parsed (every parsed record is decoded). One device would parse steps × batch;
each worker should parse half of that (plus what its prefetch read ahead).
"""

import argparse
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cli  # noqa: E402


def _worker(args):
    import tensorflow as tf

    from data import pipelines
    from hdc import distribute, pretrain
    from train import config_from_args

    parsed = [0]

    def count():
        parsed[0] += 1
        return 0

    original = pipelines.parse_example

    def counted(record):
        with tf.control_dependencies([tf.py_function(count, [], tf.int32)]):
            return original(tf.identity(record))

    pipelines.parse_example = counted
    strategy = distribute.make_strategy("multiworker")
    config, _ = config_from_args(["--backbone", "c3d", "--batch-size", str(args.batch_size)])
    files, num_videos = pretrain.training_files(config)
    dataset = pretrain.distributed_dataset(strategy, config, None, files, num_videos, 0)
    iterator = iter(dataset)
    for _ in range(args.steps):
        next(iterator)
    return {"parsed": parsed[0], "steps": args.steps, "global_batch": args.batch_size}


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="global batches pulled (default 20)")
    parser.add_argument("--batch-size", type=int, default=8, help="global batch size (default 8)")
    cli.add_verbose_flag(parser)
    parser.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_index is not None:
        cli.start_tensorflow(args.verbose)
        print(json.dumps(_worker(args)))
        return 0
    cli.set_log_level(args.verbose)  # the workers inherit it
    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]}
    for s in sockets:
        s.close()
    procs = []
    for index in range(2):
        env = dict(os.environ)
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        command = [sys.executable, "-m", "benchmarks.worker_input", "--worker-index", str(index)]
        command += ["--steps", str(args.steps), "--batch-size", str(args.batch_size)]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True))
    results = [json.loads(proc.communicate()[0].strip().splitlines()[-1]) for proc in procs]
    for index, result in enumerate(results):
        total = result["steps"] * result["global_batch"]
        print(f"worker {index}: parsed {result['parsed']} records for {result['steps']} global batches "
              f"of {result['global_batch']} ({total} videos in all; its share is {total // 2})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
