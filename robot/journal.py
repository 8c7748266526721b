"""An append-only, fsynced journal of what the agent is about to do and what it did.

Every step is written (and flushed to disk) before it is acted on, so after a crash — kill -9 included — the agent
knows, for each experiment, the last step it reached: a measurement that was taken but not yet acknowledged by the
service is posted again under the same idempotency key, never measured or stored twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class Journal:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, event: str, experiment_id: int | None = None, **data) -> None:
        line = json.dumps({"event": event, "experiment_id": experiment_id, **data}, separators=(",", ":")) + "\n"
        os.write(self.fd, line.encode())
        os.fsync(self.fd)

    def entries(self) -> list[dict]:
        out = []
        if not self.path.exists():
            return out
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn last line from a crash mid-write: the step it named never happened
        return out

    def state(self) -> dict[int, dict]:
        """The last known state of each experiment: its last event and the data recorded along the way."""
        st: dict[int, dict] = {}
        for e in self.entries():
            i = e.get("experiment_id")
            if i is None:
                continue
            cur = st.setdefault(i, {})
            cur.update({k: v for k, v in e.items() if k not in ("event",)})
            cur["last"] = e["event"]
        return st

    def vessels(self) -> dict[str, str] | None:
        """What the vial and the cell held at the last journaled change (None: never journaled)."""
        last = None
        for e in self.entries():
            if e.get("event") == "vessels":
                last = {k: v for k, v in e.items() if k in ("vial", "cell")}
        return last

    def close(self) -> None:
        os.close(self.fd)
