"""The dashboard at `/`: server-rendered, inline CSS, no external assets.

Every string that came from a node goes through `esc` before it reaches the
page; numbers are formatted here, never taken as text from a report.
"""

from __future__ import annotations

import html
from typing import Any

CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.4 system-ui,sans-serif;color:#1b1f24;
background:#f6f7f9}header{background:#1f2d3d;color:#fff;padding:12px 16px}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;opacity:.85}
main{padding:12px;display:flex;flex-wrap:wrap;gap:12px}
section{background:#fff;border-radius:8px;padding:12px;flex:1 1 420px;min-width:0;
max-width:100%;
box-shadow:0 1px 2px rgba(0,0,0,.08)}section h2{margin:0 0 8px;font-size:16px}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.l,th.l{text-align:left}
.tiles{display:flex;flex-wrap:wrap;gap:8px}.tile{flex:1 1 120px;background:#eef2f6;
border-radius:6px;padding:8px}.tile b{display:block;font-size:22px}
.bad{color:#b42318}.warn{color:#b54708}.ok{color:#067647}
.bar{background:#d0d7de;height:10px;border-radius:5px}.bar i{display:block;height:10px;
border-radius:5px;background:#2f6feb}code{font-size:13px}
form.inline{display:inline}button{font:inherit}
@media (max-width:600px){main{padding:6px}section{flex-basis:100%}}
"""

NONE = "\u2013"  # en dash for an empty cell

STATE_CLASS = {"failed": "bad", "unhealthy": "bad", "offline": "warn", "never": "warn",
               "deferred": "warn", "progressing": "warn", "healthy": "ok"}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _percent(value: float | None) -> str:
    return NONE if value is None else f"{100 * value:.0f} %"


def _tile(label: str, key: str, value: int, cls: str = "") -> str:
    return (f'<div class="tile"><span>{esc(label)}</span>'
            f'<b class="{cls}" data-total="{esc(key)}">{value}</b></div>')


def _regions(status: dict[str, Any]) -> str:
    rows = []
    for r in status["regions"]:
        failed = r["failed"] + r["unhealthy"]
        silent = r["offline"] + r["never"]
        rows.append(
            f'<tr data-tier="{esc(r["tier"])}" data-region="{esc(r["region"])}">'
            f'<td class="l">{esc(r["tier"])}</td><td class="l">{esc(r["region"] or NONE)}</td>'
            f'<td data-k="nodes">{r["nodes"]}</td><td data-k="on_latest">{r["on_latest"]}</td>'
            f'<td data-k="healthy" class="ok">{r["healthy"]}</td>'
            f'<td data-k="deferred">{r["deferred"]}</td>'
            f'<td data-k="failed" class="{"bad" if failed else ""}">{failed}</td>'
            f'<td data-k="offline" class="{"warn" if silent else ""}">{silent}</td></tr>')
    return ('<div class="scroll"><table id="regions"><thead><tr><th>tier</th><th class="l">'
            'region</th><th>nodes</th><th>on latest</th><th>healthy</th><th>deferred</th>'
            '<th>failed</th><th>silent</th></tr></thead><tbody>' + "".join(rows)
            + "</tbody></table></div>")


def _revisions(status: dict[str, Any]) -> str:
    total = max(1, status["totals"]["nodes"])
    rows = []
    for revision, count in status["revisions"].items():
        width = 100 * count / total
        latest = " (latest)" if revision == status["latest_revision"] else ""
        rows.append(f'<tr data-revision="{esc(revision)}"><td class="l"><code>'
                    f'{esc(revision[:12])}</code>{latest}</td><td data-k="count">{count}</td>'
                    f'<td style="width:50%"><div class="bar"><i style="width:{width:.1f}%">'
                    "</i></div></td></tr>")
    return ('<table id="revisions"><tbody>' + "".join(rows) + "</tbody></table>")


def _attention(nodes: list[dict[str, Any]]) -> str:
    rows = []
    for n in nodes:
        reason = n["deferred_reason"] or n["health"] or n["result"] or ""
        rows.append(
            f'<tr data-node="{esc(n["name"])}"><td class="l">{esc(n["name"])}</td>'
            f'<td class="l">{esc(n["tier"])}</td>'
            f'<td class="l {STATE_CLASS.get(n["state"], "")}" data-k="state">'
            f'{esc(n["state"])}</td><td class="l"><code>{esc((n["revision"] or NONE)[:12])}'
            f'</code></td><td class="l">{esc(n["last_report"] or "never")}</td>'
            f'<td class="l">{esc(reason)}</td></tr>')
    if not rows:
        return '<p id="attention-empty" class="ok">Every node is healthy and reporting.</p>'
    return ('<div class="scroll"><table id="attention"><thead><tr><th>node</th>'
            '<th class="l">tier</th><th class="l">state</th><th class="l">revision</th>'
            '<th class="l">last report</th><th class="l">detail</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def _delivery(metrics: dict[str, Any]) -> str:
    rows = []
    for m in metrics["delivery"]:
        rows.append(
            f'<tr data-scope="{esc(m["scope"])}"><td class="l">{esc(m["scope"])}</td>'
            f'<td data-k="lead_median">{_duration(m["lead_time_median_s"])}</td>'
            f'<td data-k="lead_p90">{_duration(m["lead_time_p90_s"])}</td>'
            f'<td data-k="deploys_per_day">{m["deployments_per_day"]:.2f}</td>'
            f'<td data-k="change_failure_rate">{_percent(m["change_failure_rate"])}</td>'
            f'<td data-k="time_to_restore">{_duration(m["time_to_restore_median_s"])}</td>'
            "</tr>")
    return ('<div class="scroll"><table id="delivery"><thead><tr><th>scope</th>'
            '<th>lead time p50</th><th>p90</th><th>deploys/day</th><th>change failure</th>'
            '<th>time to restore</th></tr></thead><tbody>' + "".join(rows)
            + "</tbody></table></div>")


def _convergence(metrics: dict[str, Any]) -> str:
    curves = [c for c in metrics["convergence"] if c["scope"] == "all" and c["points"]]
    if not curves:
        return "<p>No node has applied the latest revision yet.</p>"
    curve = curves[0]
    span = max(1.0, curve["points"][-1]["seconds"])
    coords = ["0,100"]
    previous = 100.0
    for p in curve["points"]:  # a step per node that arrived
        x = 300 * p["seconds"] / span
        coords += [f"{x:.1f},{previous:.1f}", f"{x:.1f},{100 - p['percent']:.1f}"]
        previous = 100 - p["percent"]
    last = curve["points"][-1]
    return (f'<svg id="convergence" viewBox="-2 -2 304 104" width="100%" height="120" '
            f'role="img" aria-label="convergence"><rect x="0" y="0" width="300" height="100" '
            f'fill="#eef2f6"/><polyline fill="none" stroke="#2f6feb" stroke-width="2" '
            f'points="{" ".join(coords)}"/></svg><p>revision <code>'
            f'{esc(curve["revision"][:12])}</code>: <b data-k="converged">{last["percent"]:.0f}'
            f" %</b> of nodes after {_duration(last['seconds'])}</p>")


def _rollout(rollout: dict[str, Any] | None) -> str:
    if rollout is None:
        return ""
    rows = []
    for w in rollout["waves"]:
        gate = "passed" if w["gate_passed"] else "waiting"
        rows.append(f'<tr data-wave="{w["index"]}"><td class="l">{w["index"]}</td>'
                    f'<td class="l">{esc(w["tier"])} {w["percent"]:g} %</td>'
                    f'<td>{w["nodes"]}</td><td>{w["on_target"]}</td>'
                    f'<td>{w["healthy_on_target"]}</td>'
                    f'<td class="l">{"released" if w["released"] else "held"}, gate {gate}'
                    "</td></tr>")
    return (f'<section id="rollout"><h2>Rollout {rollout["id"]} of <code>'
            f'{esc(rollout["revision"][:12])}</code>: {esc(rollout["state"])}</h2>'
            '<p>Agents of held waves keep their revision until the wave is released.</p>'
            '<div class="scroll"><table><thead><tr><th>wave</th><th class="l">nodes</th>'
            '<th>count</th><th>on target</th><th>healthy</th><th class="l">state</th></tr>'
            "</thead><tbody>" + "".join(rows) + "</tbody></table></div></section>")


def dashboard(status: dict[str, Any], attention: list[dict[str, Any]],
              metrics: dict[str, Any], operator: str, generated: str, *,
              rollout: dict[str, Any] | None = None) -> str:
    t = status["totals"]
    tiles = "".join([
        _tile("nodes", "nodes", t["nodes"]),
        _tile("on latest", "on_latest", t["on_latest"]),
        _tile("healthy", "healthy", t["healthy"], "ok"),
        _tile("deferred", "deferred", t["deferred"], "warn"),
        _tile("failed", "failed", t["failed"] + t["unhealthy"], "bad"),
        _tile("silent", "offline", t["offline"] + t["never"], "warn"),
    ])
    latest = esc((status["latest_revision"] or "none yet")[:12])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgesync fleet</title><style>{CSS}</style></head>
<body><header><h1>edgesync fleet</h1>
<p>latest revision <code id="latest">{latest}</code> · {esc(generated)} · {esc(operator)}
<form class="inline" method="post" action="/logout"><button>log out</button></form></p>
</header><main>
<section style="flex-basis:100%"><div class="tiles" id="totals">{tiles}</div></section>
<section><h2>Needs attention</h2>{_attention(attention)}</section>
<section><h2>By tier and region</h2>{_regions(status)}</section>
<section><h2>Revision spread</h2>{_revisions(status)}</section>
<section><h2>Delivery ({metrics["window_days"]:g} days)</h2>{_delivery(metrics)}</section>
<section><h2>Convergence of the latest revision</h2>{_convergence(metrics)}</section>
{_rollout(rollout)}
</main></body></html>"""


def login(message: str = "") -> str:
    note = f'<p class="bad">{esc(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgesync fleet · log in</title><style>{CSS}</style></head>
<body><header><h1>edgesync fleet</h1></header><main><section>
<h2>Operator log in</h2>{note}
<form method="post" action="/login"><label>operator token<br>
<input type="password" name="token" autocomplete="current-password" style="width:100%">
</label><p><button type="submit">log in</button></p></form></section></main></body></html>"""
