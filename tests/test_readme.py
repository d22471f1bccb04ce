"""The README's "Write your own objective" example runs as written, in a fresh
process, and its queue fills."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_block(heading):
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text[text.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_write_your_own_objective_example_runs():
    code = readme_block("### Write your own objective")
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    losses, count = result.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert int(count) == 2 * 3 * 4  # 6 steps of 4 keys pushed
