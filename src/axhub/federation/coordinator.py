"""The coordinator: sends one query to every site, waits a bounded time, combines what came back.

It never receives person-level data: each site answers with a released aggregate (counts,
suppressed cells as null, noisy counts, means, histograms).  A site that is down, times out,
refuses or waits for its committee is named in the result, which is then ``partial``.

Sums across sites count site records: a person treated at two sites is counted at each
(Weber, JAMIA 2013; ``../shared/reference/federation-linkage-privacy.md`` §2.3).
"""

from __future__ import annotations

import math
import os
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from axhub.errors import ConfigError, InputError
from axhub.federation.spec import QuerySpec


@dataclass(frozen=True)
class Site:
    name: str
    url: str
    token: str = field(repr=False)


def load_sites(path: Path) -> list[Site]:
    """Sites from a TOML file: ``[[site]]`` with ``name``, ``url`` and ``token`` or
    ``token_env`` (the name of an environment variable holding the token)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the sites file: {exc}", path=str(path)) from None
    sites = []
    for i, s in enumerate(data.get("site") or []):
        where = f"site[{i}]"
        for key in ("name", "url"):
            if not isinstance(s.get(key), str) or not s[key]:
                raise InputError(f"missing {key}", path=str(path), field=f"{where}.{key}")
        token = s.get("token") or os.environ.get(str(s.get("token_env") or ""), "")
        if not token:
            raise InputError(
                "no token (set token or token_env)", path=str(path), field=f"{where}.token"
            )
        sites.append(Site(s["name"], s["url"].rstrip("/"), token))
    if not sites:
        raise InputError("the sites file lists no [[site]]", path=str(path))
    return sites


def new_query_id() -> str:
    return "q-" + uuid.uuid4().hex[:16]


@dataclass
class FederatedResult:
    """What the coordinator got back from the sites, and their combination."""

    query_id: str
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)  # site -> payload
    pending: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
    bytes_received: dict[str, int] = field(default_factory=dict)
    raw: dict[str, bytes] = field(default_factory=dict, repr=False)  # bodies as received
    combined: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return bool(self.pending or self.refused or self.unreachable)

    def to_json(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "partial": self.partial,
            "sites_answered": sorted(self.answered),
            "sites_pending": sorted(self.pending),
            "sites_refused": dict(sorted(self.refused.items())),
            "sites_unreachable": dict(sorted(self.unreachable.items())),
            "combined": self.combined,
            "per_site": dict(sorted(self.answered.items())),
            "bytes_received": dict(sorted(self.bytes_received.items())),
        }


class Coordinator:
    """Talks to the sites over HTTP with each site's own bearer token."""

    def __init__(self, sites: list[Site], *, timeout: float = 30.0) -> None:
        self.sites, self.timeout = sites, timeout

    def _call(self, site: Site, method: str, path: str, body: Any = None) -> httpx.Response:
        with httpx.Client(timeout=self.timeout) as client:
            return client.request(
                method,
                site.url + path,
                json=body,
                headers={"Authorization": f"Bearer {site.token}"},
            )

    def _gather(self, query_id: str, method: str, path: str, body: Any = None) -> FederatedResult:
        out = FederatedResult(query_id)

        def one(site: Site) -> tuple[Site, httpx.Response | str]:
            try:
                return site, self._call(site, method, path, body)
            except httpx.TimeoutException:
                return site, f"timed out after {self.timeout:g} s"
            except httpx.HTTPError as exc:
                return site, f"unreachable: {type(exc).__name__}"

        with ThreadPoolExecutor(max_workers=max(1, len(self.sites))) as pool:
            replies = list(pool.map(one, self.sites))
        for site, reply in replies:
            if isinstance(reply, str):
                out.unreachable[site.name] = reply
                continue
            out.bytes_received[site.name] = len(reply.content)
            out.raw[site.name] = reply.content
            try:
                data = reply.json()
            except ValueError:
                out.unreachable[site.name] = f"HTTP {reply.status_code}, not JSON"
                continue
            if reply.status_code != 200:
                err = data.get("error", {}) if isinstance(data, dict) else {}
                msg = err.get("message", f"HTTP {reply.status_code}")
                out.refused[site.name] = f"HTTP {reply.status_code}: {msg}"
            elif data.get("status") == "answered":
                out.answered[site.name] = data["result"]
            elif data.get("status") in ("pending", "approved"):
                out.pending.append(site.name)
            else:
                out.refused[site.name] = str(data.get("reason") or data.get("status"))
        return out

    def submit(self, spec: QuerySpec) -> FederatedResult:
        """Send the query to every site; combine the answers that came back."""
        spec.validate()
        out = self._gather(spec.query_id, "POST", "/queries", spec.to_json())
        out.combined = combine(list(out.answered.values()), spec.probs)
        return out

    def train_step(self, body: dict[str, Any]) -> FederatedResult:
        """One training step at every site (``axhub.federation.training``)."""
        return self._gather(str(body.get("step", "")), "POST", "/train", body)

    def collect(
        self, query_id: str, probs: tuple[float, ...] = (0.25, 0.5, 0.75)
    ) -> FederatedResult:
        """Ask every site again for a query's state (after committee approvals)."""
        out = self._gather(query_id, "GET", f"/queries/{query_id}")
        out.combined = combine(list(out.answered.values()), probs)
        return out


# -- combining released aggregates ---------------------------------------------------------------
def combine(payloads: list[dict[str, Any]], probs: tuple[float, ...]) -> dict[str, Any]:
    """Combine site payloads of one kind (suppressed cells are reported, never guessed)."""
    if not payloads:
        return {}
    kind = payloads[0]["kind"]
    if kind == "count":
        known = [p["n"] for p in payloads if p["n"] is not None]
        hidden = sorted(p["site"] for p in payloads if p["n"] is None)
        return {"n": sum(known), "exact": not hidden, "suppressed_at": hidden}
    if kind == "district":
        rows: dict[str, dict[str, Any]] = {}
        for p in payloads:
            for r in p["districts"]:
                acc = rows.setdefault(r["district"], {"cohort": 0, "total": 0, "suppressed_at": []})
                for k in ("cohort", "total"):
                    if r[k] is None:
                        if k == "cohort" or p["method"] != "opendp-laplace":
                            acc["suppressed_at"].append(p["site"])
                    else:
                        acc[k] += r[k]
        for acc in rows.values():
            acc["suppressed_at"] = sorted(set(acc["suppressed_at"]))
            exact = not acc["suppressed_at"] and acc["total"]
            acc["rate"] = round(acc["cohort"] / acc["total"], 4) if exact else None
        return {"districts": dict(sorted(rows.items()))}
    if kind == "mean":
        usable = [p for p in payloads if p["n"] and p["mean"] is not None]
        n = sum(p["n"] for p in usable)
        if not n:
            return {"n": 0, "mean": None}
        mean = sum(p["n"] * p["mean"] for p in usable) / n
        out: dict[str, Any] = {"n": n, "mean": round(mean, 4)}
        if all(p.get("var") is not None for p in usable) and n > 1:
            ss = sum((p["n"] - 1) * p["var"] + p["n"] * (p["mean"] - mean) ** 2 for p in usable)
            out["sd"] = round(math.sqrt(ss / (n - 1)), 4)
        return out
    # quantile: sum the histograms, interpolate within bins
    edges = payloads[0]["bins"]
    hist = [0] * (len(edges) - 1)
    hidden_bins: list[str] = []
    for p in payloads:
        if p["bins"] != edges:
            raise InputError("sites answered with different bins", field="bins")
        for i, v in enumerate(p["histogram"]):
            if v is None:
                hidden_bins.append(f"{p['site']}:{i}")
            else:
                hist[i] += v
    return {
        "bins": edges,
        "histogram": hist,
        "n": sum(hist),
        "quantiles": {str(q): histogram_quantile(edges, hist, q) for q in probs},
        "suppressed_bins": hidden_bins,
    }


def histogram_quantile(edges: list[float], hist: list[int], q: float) -> float | None:
    """The q-quantile of a histogram, linear within the bin that holds it."""
    total = sum(hist)
    if total <= 0:
        return None
    target, seen = q * total, 0.0
    for i, h in enumerate(hist):
        if h > 0 and seen + h >= target:
            return round(edges[i] + (target - seen) / h * (edges[i + 1] - edges[i]), 4)
        seen += h
    return float(edges[-1])
