"""Recognizable fake secrets and the search for them: any of them found in captured output, a
run's event log (messages, metadata values, errors) or a file the run left is a leak."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import dagster as dg


@dataclass(frozen=True)
class Secrets:
    """Recognizable fake credentials: any of them found in a log, file or message is a leak."""

    paqtana_token: str = "tok-SECRET-paqtana-1234"
    pixee_key: str = "pm_test_SECRET5678"
    pxm_client_id: str = "pxm-client-reliability"
    pxm_secret: str = "pxm-SECRET-9999"

    @property
    def leakable(self) -> tuple[str, ...]:
        """Every form a secret could leak in: as is, and PXM's Basic credentials."""
        basic = base64.b64encode(f"{self.pxm_client_id}:{self.pxm_secret}".encode()).decode()
        return (self.paqtana_token, self.pixee_key, self.pxm_secret, basic)


SECRETS = Secrets()
WRONG_SECRETS = Secrets(
    paqtana_token="tok-SECRET-wrong-0000",
    pixee_key="pm_test_SECRETwrong00",
    pxm_secret="pxm-SECRET-wrong-0000",
)


def leaks_in_text(text: str, secrets: Secrets = SECRETS) -> list[str]:
    return [s for s in secrets.leakable if s in text]


def leaks_in_tree(root: Path, secrets: Secrets = SECRETS) -> list[str]:
    """Files under `root` (instance storage and its event log, compute logs, staging, rejects,
    outbox) holding a secret, as "path: secret"."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        blob = path.read_bytes()
        found += [f"{path}: {s}" for s in secrets.leakable if s.encode() in blob]
    return found


def event_log_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """Every event of a run as stored (messages, metadata values, errors), one per line."""
    return "\n".join(dg.serialize_value(entry) for entry in instance.all_logs(run_id))
