"""Draw steps of a graphc trace (Trace Event Format JSON) as a self-contained HTML page, offline.

    python docs/tools/trace_page.py trace.json trace.html --steps 3 4

Perfetto's UI is a web app served from the internet and chrome://tracing loads files only by hand,
so docs/observability.md's timeline picture is this page, opened in headless Chromium: one row per
track (the caller's steps, then each native thread), a box per complete event ("ph": "X") of the
chosen steps, coloured by category (kernel, barrier, launch, call, step), named where it is wide enough.
"""
import argparse
import html
import json

WIDTH, ROW, LABEL, TOP = 1360, 46, 150, 40
COLOURS = {"kernel": "#4e79a7", "barrier": "#e15759", "launch": "#bab0ac", "call": "#f28e2b", "step": "#59a14f"}


def page(trace: dict, steps: range) -> str:
    events = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["args"].get("step") in steps]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    tracks = sorted({(e["pid"], e["tid"]) for e in events}, key=lambda track: (-track[0], track[1]))
    start = min(e["ts"] for e in events)
    span = max(e["ts"] + e["dur"] for e in events) - start
    scale = (WIDTH - LABEL - 10) / span
    parts = []
    for row, track in enumerate(tracks):
        y = TOP + row * ROW
        parts.append(f'<text x="4" y="{y + 26}">{html.escape(names.get(track, str(track)))}</text>')
        for e in (e for e in events if (e["pid"], e["tid"]) == track):
            x, w = LABEL + (e["ts"] - start) * scale, max(e["dur"] * scale, 0.5)
            title = html.escape(f'{e["name"]} {e["dur"]:.1f} us {json.dumps(e["args"])}')
            parts.append(f'<rect x="{x:.2f}" y="{y + 6}" width="{w:.2f}" height="{ROW - 12}" '
                         f'fill="{COLOURS.get(e["cat"], "#999")}" stroke="white" stroke-width="0.3">'
                         f'<title>{title}</title></rect>')
            if w > 6.5 * len(e["name"]):        # room for the name at 11px
                parts.append(f'<text x="{x + 3:.2f}" y="{y + 26}" fill="white" font-size="11">'
                             f'{html.escape(e["name"])}</text>')
    for tick in range(0, int(span) + 1, max(100, int(span / 10) // 100 * 100)):
        x = LABEL + tick * scale
        parts.append(f'<line x1="{x:.2f}" y1="{TOP - 6}" x2="{x:.2f}" y2="{TOP + ROW * len(tracks)}" stroke="#ddd"/>'
                     f'<text x="{x + 2:.2f}" y="{TOP - 10}" font-size="11">{tick} us</text>')
    legend = " ".join(f'<span style="color:{c}">&#9632; {name}</span>' for name, c in COLOURS.items())
    height = TOP + ROW * len(tracks) + 10
    return (f'<!doctype html><html><body style="font-family:sans-serif;margin:10px">'
            f'<div>graphc trace, steps {steps.start}-{steps.stop - 1}: {legend}</div>'
            f'<svg width="{WIDTH}" height="{height}" font-size="13">{"".join(parts)}</svg></body></html>')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace")
    parser.add_argument("html")
    parser.add_argument("--steps", type=int, nargs=2, default=(1, 1), metavar=("FIRST", "LAST"))
    args = parser.parse_args()
    with open(args.trace) as file:
        trace = json.load(file)
    with open(args.html, "w") as file:
        file.write(page(trace, range(args.steps[0], args.steps[1] + 1)))


if __name__ == "__main__":
    main()
