# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the monitor's status as a self-contained HTML page and as text sparklines (pure).

The page has no external assets (inline CSS and SVG only) and refreshes itself, so it can be
opened from the log directory on any machine. `status` is the agent's status.json document.
"""
from __future__ import annotations

import html

from ansible_collections.homeiq.phase0.plugins.module_utils.monitor_sample import human_bytes

HEALTH_COLOURS = {"healthy": "#2e7d32", "unhealthy": "#c62828", "starting": "#f9a825",
                  "none": "#78909c", "down": "#424242"}
_BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(values, width=30):
    """Text sparkline of the last `width` values (None shows as a space)."""
    values = list(values)[-width:]
    numbers = [v for v in values if v is not None]
    if not numbers:
        return " " * len(values)
    top = max(numbers) or 1.0
    out = []
    for value in values:
        if value is None:
            out.append(" ")
        else:
            out.append(_BLOCKS[min(len(_BLOCKS) - 1, 1 + int(value / top * (len(_BLOCKS) - 2)))])
    return "".join(out)


def health_colour(state, health):
    """The timeline colour of one sample: its health, or 'down' when not running."""
    if state not in (None, "running"):
        return HEALTH_COLOURS["down"]
    return HEALTH_COLOURS.get(health or "none", HEALTH_COLOURS["none"])


def svg_timeline(history, width=240, height=14):
    """Health over time: one coloured bar per sample."""
    if not history:
        return '<svg class="timeline" width="%d" height="%d"></svg>' % (width, height)
    step = float(width) / len(history)
    rects = []
    for i, point in enumerate(history):
        rects.append('<rect x="%.1f" y="0" width="%.1f" height="%d" fill="%s"><title>%s %s</title></rect>'
                     % (i * step, max(step, 1.0), height, health_colour(point.get("state"), point.get("health")),
                        html.escape(str(point.get("ts", ""))), html.escape(str(point.get("health")))))
    return '<svg class="timeline" width="%d" height="%d" role="img">%s</svg>' % (width, height, "".join(rects))


def svg_line_chart(values, width=160, height=36, colour="#1565c0", label=""):
    """A polyline of the values (None skipped) scaled to the box; the maximum in the title."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    title = "<title>%s max %s</title>" % (html.escape(label), html.escape(
        "%.2f" % max(v for _index, v in points) if points else "-"))
    if not points:
        return '<svg class="chart" width="%d" height="%d">%s</svg>' % (width, height, title)
    top = max(v for _index, v in points) or 1.0
    span = max(1, len(values) - 1)
    coords = " ".join("%.1f,%.1f" % (i * (width - 2) / float(span) + 1, height - 1 - (v / top) * (height - 2))
                      for i, v in points)
    return ('<svg class="chart" width="%d" height="%d" role="img">%s'
            '<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/></svg>'
            % (width, height, title, colour, coords))


_CSS = """
body{font-family:system-ui,sans-serif;margin:1em;color:#212121}
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:middle}
.badge{padding:1px 6px;border-radius:3px;color:#fff}
.meta{color:#555}.errors{font-family:monospace;font-size:12px;white-space:pre-wrap}
"""


def render_status_html(status, refresh_seconds=10):
    """The whole status.html page for a status document."""
    esc = html.escape
    rows = []
    for svc in status.get("services") or []:
        history = svc.get("history") or []
        colour = health_colour(svc.get("state"), svc.get("health"))
        cpu = svc.get("cpu_percent")
        rows.append(
            '<tr class="service" data-service="%s" data-health="%s">'
            "<td>%s</td><td>%s</td><td>%s</td>"
            '<td><span class="badge" style="background:%s">%s</span></td>'
            "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
            % (esc(svc.get("service") or ""), esc(svc.get("health") or ""),
               esc(svc.get("service") or ""), esc(svc.get("container") or ""), esc(svc.get("state") or ""),
               colour, esc(svc.get("health") or ""), svc.get("restarts", 0),
               "-" if cpu is None else "%.1f%%" % cpu, esc(human_bytes(svc.get("mem_bytes"))),
               svg_timeline(history),
               svg_line_chart([p.get("cpu") for p in history], colour="#1565c0", label="CPU %"),
               svg_line_chart([p.get("mem") for p in history], colour="#6a1b9a", label="memory bytes")))
    errors = []
    for err in status.get("recent_errors") or []:
        errors.append("<li><b>%s</b> %s %s</li>" % (esc(err.get("container") or ""), esc(err.get("ts") or ""),
                                                    esc(err.get("line") or "")))
    engine = "connected" if status.get("engine_connected") else "NOT CONNECTED"
    gaps = status.get("gaps") or []
    gap_text = ""
    if gaps:
        last = gaps[-1]
        gap_text = " &middot; last engine gap %s to %s (%s s)" % (esc(str(last.get("from"))), esc(str(last.get("to"))),
                                                                  esc(str(last.get("seconds"))))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="%d">
<title>phase0 monitor: %s</title><style>%s</style></head>
<body>
<h1>Build monitor: %s</h1>
<p class="meta">last sample %s &middot; samples %s &middot; errors %s &middot; interval %s s &middot; engine %s%s</p>
<table id="services">
<thead><tr><th>Service</th><th>Container</th><th>State</th><th>Health</th><th>Restarts</th><th>CPU</th>
<th>Memory</th><th>Health timeline</th><th>CPU</th><th>Memory</th></tr></thead>
<tbody>
%s
</tbody></table>
<h2>Latest errors</h2>
<ul class="errors" id="errors">
%s
</ul>
</body></html>
""" % (max(2, int(refresh_seconds)), esc(status.get("project") or ""), _CSS, esc(status.get("project") or ""),
       esc(str(status.get("last_sample"))), status.get("samples", 0), status.get("errors", 0),
       status.get("interval"), engine, gap_text, "\n".join(rows), "\n".join(errors) or "<li>none</li>")
