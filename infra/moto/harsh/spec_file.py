"""The spec file named by `ORDERFLOW_HARSH_FILE`, read again whenever it changes, so a run can
switch the injected faults off without restarting moto. A missing file means everything off;
a spec that does not parse keeps the previous one (and says so in the log)."""

import os
import threading

from . import log
from .spec import Spec, SpecError, parse

VARIABLE = "ORDERFLOW_HARSH_FILE"


class SpecFile:
    def __init__(self, path: str):
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._spec: Spec | None = None
        self._version = 0

    def current(self) -> Spec | None:
        """The spec in force now (None: the harsh cloud is off)."""
        try:
            st = os.stat(self._path)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                self._reload(stamp is not None)
            return self._spec

    def version(self) -> int:
        """Grows by one each time the spec in force changes."""
        with self._lock:
            return self._version

    def _reload(self, exists: bool) -> None:
        if not exists:
            if self._spec is not None:
                log.config(f"{self._path} is gone: the harsh cloud is off")
            self._set(None)
            return
        try:
            with open(self._path, encoding="utf-8") as f:
                text = f.read()
            spec = parse(text)
        except (OSError, SpecError) as e:
            log.config(f"{self._path}: {e}; keeping the previous spec")
            return
        if spec != self._spec:
            log.config(f"spec {spec}")
            self._set(spec)

    def _set(self, spec: Spec | None) -> None:
        self._spec = spec
        self._version += 1
