"""The programs as a user meets them (cli): a user error is one ``error:`` line and a hint on
stderr, exit 2, nothing written and no traceback; TensorFlow starts without its start-up log
lines unless --verbose or the user's TF_CPP_MIN_LOG_LEVEL asks for them."""

import importlib
import os
import subprocess
import sys
import zipfile

import pytest

import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, **env):
    """A program in a fresh process, with the user's environment: no TF_CPP_MIN_LOG_LEVEL unless given."""
    base = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    "flags, error",
    [
        (["--backbone", "c3d", "--frames", "2"], "frames must be >= 8 for --backbone c3d (its block5 stride in time)"),
        (["--crop", "4", "--resize", "8"], "crop must be >= 32 for --backbone r3d18 (its block5 stride in space)"),
        (["--backbone", "nope"], "argument --backbone: invalid choice: 'nope'"),
    ],
)
def test_train_py_settings_errors_are_one_line_before_anything_is_written(flags, error, tmp_path):
    out = tmp_path / "out"
    proc = run(["train.py", *flags, "--out", str(out)])
    assert proc.returncode == 2 and proc.stdout == "" and not out.exists(), proc.stderr[-2000:]
    line, hint = proc.stderr.splitlines()
    assert line.startswith(f"error: {error}") and hint == cli.HINT


def not_an_archive(tmp_path):
    path = tmp_path / "notes.keras"
    path.write_text("my notes")
    return str(path)


def test_evaluate_names_a_bad_encoder_before_building_data_and_starts_quietly(tmp_path):
    """The file exists but is no Keras archive: said before the synthetic dataset is built (its
    cache stays empty); TensorFlow was imported, yet stderr holds only the two lines."""
    encoder, cache, out = not_an_archive(tmp_path), tmp_path / "cache", tmp_path / "out"
    proc = run(["evaluate.py", "retrieval", "--encoder", encoder, "--out", str(out)], HDC_CACHE_DIR=str(cache))
    assert proc.returncode == 2 and not cache.exists() and not out.exists()
    assert proc.stderr.splitlines() == [
        f"error: encoder {encoder} is not a Keras archive (a .keras file is a zip holding config.json)", cli.HINT]


@pytest.mark.parametrize("flag, env", [("--verbose", {}), (None, {"TF_CPP_MIN_LOG_LEVEL": "0"})])
def test_verbose_or_the_users_log_level_brings_the_start_up_lines_back(flag, env, tmp_path):
    encoder = not_an_archive(tmp_path)
    proc = run(["evaluate.py", "retrieval", "--encoder", encoder] + ([flag] if flag else []), **env)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and lines[-1] == cli.HINT
    assert any("oneDNN custom operations" in line for line in lines[:-2]), proc.stderr[-2000:]


@pytest.mark.parametrize("path, message", [
    ("missing.keras", "does not exist"),
    ("folder", "is a directory without saved_model.pb, not a SavedModel export"),
    ("notes.txt", "must be an encoder.keras file or a SavedModel directory"),
    ("weights.keras", "is not a Keras archive"),
])  # fmt: skip
def test_encoder_source_names_what_is_wrong(path, message, tmp_path):
    from hdc.evaluation.encoders import EncoderSource

    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    with zipfile.ZipFile(tmp_path / "weights.keras", "w") as archive:  # a zip, but no Keras config
        archive.writestr("model.weights.h5", b"")
    with pytest.raises(ValueError, match=f"encoder {tmp_path / path} {message}"):
        EncoderSource(encoder=str(tmp_path / path)).validate()


@pytest.mark.parametrize(
    "module", ["train", "evaluate", "data.prepare", "preview", "benchmarks.step", "benchmarks.pipeline",
               "benchmarks.quality", "benchmarks.step_breakdown", "benchmarks.worker_input", "benchmarks.demo_steps"],
)  # fmt: skip
def test_every_program_reports_a_flag_error_in_one_line(module, capsys):
    required = {"evaluate": ["retrieval"], "data.prepare": ["--videos", "v", "--out", "o"]}
    argv = required.get(module, []) + ["--no-such-flag"]
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(module).main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines() == ["error: unrecognized arguments: --no-such-flag", cli.HINT]
