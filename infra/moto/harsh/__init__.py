"""The harsh cloud: moto failing the way AWS fails, between the functions and the endpoint.

Switched on by `ORDERFLOW_HARSH_FILE`, the path of a spec file (`spec.py` says what it holds);
without the variable nothing here is installed and moto behaves exactly as before.
- `contention.py`, `dynamodb.py`: transaction conflicts and the per-item write rate;
- `capacity.py`: the read and write units a request consumed, when it asks for them;
- `eventbridge.py`: duplicate and late deliveries to SQS targets;
- `spec_file.py`: the spec, read again when the file changes;
- `log.py`: one line per injected event in the moto log.
"""

import os

from . import log
from .spec_file import VARIABLE, SpecFile


def install() -> None:
    path = os.environ.get(VARIABLE)
    if not path:
        return
    spec_file = SpecFile(path)
    spec = spec_file.current()
    log.config(f"installed, spec file {path}" + ("" if spec is not None else " (absent: off)"))

    from . import capacity, dynamodb, eventbridge

    dynamodb.install(spec_file)
    # Outside the contention model: a refused write consumed nothing it would report.
    capacity.install()
    eventbridge.install(spec_file)
