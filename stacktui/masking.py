"""Keep passwords out of logs and panes.

A password can reach output raw, percent-encoded (database and transport
URLs) or shell-quoted; each form is replaced by ``****``.
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import quote, quote_plus

MASK = "****"


class Masker:
    def __init__(self, secrets=()):
        forms: set[str] = set()
        for s in secrets:
            if not s:
                continue
            forms.update({s, quote(s, safe=""), quote_plus(s), shlex.quote(s)})
        # Longest first, so a quoted form is masked whole, not just its core.
        forms = sorted((f for f in forms if len(f) >= 3), key=len, reverse=True)
        self._re = re.compile("|".join(re.escape(f) for f in forms)) if forms else None
        self._bre = re.compile(b"|".join(re.escape(f.encode()) for f in forms)) if forms else None
        self.longest = max((len(f.encode()) for f in forms), default=0)

    def __call__(self, text: str) -> str:
        return self._re.sub(MASK, text) if self._re else text

    def bytes(self, data: bytes) -> bytes:
        return self._bre.sub(MASK.encode(), data) if self._bre else data
