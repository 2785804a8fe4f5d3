"""httpx without its command-line client.

`import httpx` also imports `httpx._main` (its CLI, built on rich and pygments)
whenever those happen to be installed, as they are next to Typer. The agent
never uses that CLI, and skipping it takes about a third off the images
stage's import time, which every `edge-agent images` run pays.
"""

import sys
import types

if "httpx" not in sys.modules:
    # An empty stand-in makes httpx fall back to its "CLI not installed" stub.
    sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))
