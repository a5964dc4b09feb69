"""Kernel-free players for the static site: self-contained HTML and JavaScript, no server.

Two kinds, both drawn with matplotlib at ``scale`` × the figure's dpi (sharp on high-density
screens) and cropped to what is drawn (no empty margins):

* :func:`eomlib.book.players.lr_player` — one precomputed frame per value of a parameter
  (η, λ, β, …): a slider, a readout ``η = 0.32`` next to it that follows the slider, and a
  play button.
* :func:`eomlib.book.players.time_player` — runs in *time*: one background image (contours,
  axes, labels, legend) and, on top of it, curves drawn by the browser from their
  coordinates, up to the current step k.  A slider chooses η, a second one (and a play
  button) the step; the readouts say η, k and t = kη.  Its weight is one image plus the
  numbers, whatever the number of steps.

The HTML contract, which the book's browser test relies on: a player is a
``div.eom-player``; each slider is an ``input[type=range]`` with a ``data-readout`` naming
the ``output.eom-player-readout`` that it updates; the picture is ``img.eom-player-frame``
(and, for :func:`time_player`, an ``svg.eom-player-overlay`` on top of it).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = ["lr_player", "time_player", "render_frame"]

_PAD_PX = 6  # margin (in output pixels) kept around what is drawn

_CSS = """<style>
.eom-player{display:inline-block;max-width:100%;margin:0.5em 0;}
.eom-player .eom-player-view{position:relative;display:inline-block;max-width:100%;}
.eom-player img.eom-player-frame{display:block;max-width:100%;height:auto;}
.eom-player svg.eom-player-overlay{position:absolute;left:0;top:0;width:100%;height:100%;}
.eom-player .eom-player-controls{display:flex;flex-wrap:wrap;align-items:center;gap:0.4em 0.8em;
  font-size:0.95em;margin-top:0.2em;}
.eom-player .eom-player-controls label{display:flex;align-items:center;gap:0.4em;}
.eom-player input[type=range]{width:14em;}
.eom-player output{font-variant-numeric:tabular-nums;min-width:7em;font-weight:600;}
.eom-player button{border:1px solid #888;border-radius:4px;background:#f4f4f4;padding:0 0.6em;
  cursor:pointer;}
</style>"""


def _check_common(n: int, what: str, interval_ms, scale):
    if n < 2:
        raise ValueError(f"{what} must name at least two frames, got {n}.")
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, (int, float)) \
            or not interval_ms > 0:
        raise ValueError(f"interval_ms must be a number > 0, got {interval_ms!r}.")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 1 <= scale <= 4:
        raise ValueError(f"scale must be a number in [1, 4] (pixels per figure pixel), got {scale!r}.")


def render_frame(fig, scale: float = 2.0):
    """Draws ``fig`` at ``scale`` × its dpi; returns the RGB pixels and what is drawn.

    Args:
        fig: a matplotlib ``Figure``.
        scale: the output pixels per figure pixel (default 2: sharp on a high-density screen
            when shown at the figure's own size).

    Returns:
        ``(rgb, box)``: an ``uint8`` array of shape (height, width, 3) and the pixel box
        ``(x0, y0, x1, y1)`` (from the top left) of the figure's tight bounding box.
    """
    dpi = fig.dpi
    fig.set_dpi(dpi * scale)
    try:
        fig.canvas.draw()
        rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        box = fig.get_tightbbox(fig.canvas.get_renderer())
        h = rgb.shape[0]
        px = fig.dpi  # tight boxes are in inches
        bounds = (math.floor(box.x0 * px), math.floor(h - box.y1 * px),
                  math.ceil(box.x1 * px), math.ceil(h - box.y0 * px))
    finally:
        fig.set_dpi(dpi)
    return rgb, bounds


def _union(boxes, shape):
    h, w = shape[:2]
    x0 = max(0, min(b[0] for b in boxes) - _PAD_PX)
    y0 = max(0, min(b[1] for b in boxes) - _PAD_PX)
    x1 = min(w, max(b[2] for b in boxes) + _PAD_PX)
    y1 = min(h, max(b[3] for b in boxes) + _PAD_PX)
    return x0, y0, x1, y1


def _png(rgb) -> str:
    from PIL import Image

    buf = io.BytesIO()
    # 256 colours (median cut) are indistinguishable from the antialiased original in line
    # plots and grey contours, and make the frames 2–3 times lighter
    Image.fromarray(rgb).quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_uid_counter = [0]


def _uid(payload: str) -> str:
    import hashlib

    _uid_counter[0] += 1
    return hashlib.sha1(f"{_uid_counter[0]}:{payload[:4096]}".encode()).hexdigest()[:10]


def _js(value) -> str:
    """``value`` as a JavaScript literal inside a <script> (UTF-8 kept, ``</`` escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _slider(uid, key, name, n, value, readout):
    return (f'<label>{html.escape(name)} <input type="range" min="0" max="{n - 1}" step="1" '
            f'value="{value}" data-key="{key}" data-readout="{uid}-{key}" '
            f'aria-label="{html.escape(name)}"></label>'
            f'<output class="eom-player-readout" id="{uid}-{key}">{html.escape(readout)}</output>')


def lr_player(fig, draw: Callable[[int], None], labels: Sequence[str], *, name: str = "η",
              alt: str | None = None, interval_ms: int = 400, scale: float = 2.0,
              few_frames: str | None = None):
    """A kernel-free player: ``draw(i)`` redraws ``fig`` for the i-th value of a parameter.

    Every frame is drawn now, at ``scale`` × the figure's dpi, and cropped to the union of
    the frames' tight bounding boxes (so frames do not jump and carry no empty margins);
    the HTML shows them at the figure's own size.  Next to the slider a readout shows
    ``f"{name} = {labels[i]}"`` and follows it; a button plays the frames in order.
    ``fig`` is closed afterwards, so that it is not shown a second time.

    Args:
        fig: the matplotlib ``Figure`` that ``draw`` redraws (a fixed layout, e.g.
            ``layout="constrained"``, keeps the frames aligned).
        draw: a function of the frame index ``i`` (0 ≤ i < ``len(labels)``) that redraws
            ``fig``, e.g. clears its axes and plots the run at the i-th η; its return value
            is ignored.
        labels: the parameter's value in each frame, as text (e.g. ``"0.32"``), at least
            two.
        name: keyword only; the parameter's name, shown by the slider and in the readout
            (default ``"η"``).
        alt: keyword only; the image's alternative text, one sentence saying what the frames
            show (default: ``"<fig's suptitle> as <name> varies"`` where there is one).
        interval_ms: keyword only; the time between frames when playing, in milliseconds,
            > 0 (default 400).
        scale: keyword only; output pixels per figure pixel, in [1, 4] (default 2).
        few_frames: keyword only; why the player has fewer than 20 frames, when each
            frame is expensive (e.g. a network trained per frame); kept in the HTML
            (``data-few-frames``), where the book's site check looks for it.  None (the
            default) for a player of 20 or more frames.

    Returns:
        An ``IPython.display.HTML`` object (a notebook cell displays it).

    Raises:
        ValueError: if ``labels`` names fewer than two frames, ``interval_ms`` is not > 0 or
            ``scale`` is outside [1, 4].

    Example:
        >>> from eomlib.book import players
        >>> lrs = [0.1, 0.2, 0.4]  # fig, ax = plt.subplots(); draw(i) plots the run at lrs[i]
        >>> players.lr_player(fig, draw, [f"{lr:g}" for lr in lrs])
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML

    labels = [str(label) for label in labels]
    _check_common(len(labels), "labels", interval_ms, scale)
    frames, boxes = [], []
    for i in range(len(labels)):
        draw(i)
        rgb, box = render_frame(fig, scale)
        frames.append(rgb)
        boxes.append(box)
    plt.close(fig)
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"draw changed the figure's size between frames ({sorted(shapes)}); "
                         "keep one figure size for all frames.")
    x0, y0, x1, y1 = _union(boxes, frames[0].shape)
    uris = [_png(f[y0:y1, x0:x1]) for f in frames]
    width, height = (x1 - x0) / scale, (y1 - y0) / scale
    if alt is None:
        title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else "A figure"
        alt = f"{title} as {name} varies"
    uid = "eomp-" + _uid(uris[0])
    readouts = [f"{name} = {label}" for label in labels]
    few = f' data-few-frames="{html.escape(few_frames)}"' if few_frames else ""
    body = (
        f'<div class="eom-player" id="{uid}"{few}>'
        f'<div class="eom-player-view"><img class="eom-player-frame" src="{uris[0]}" '
        f'width="{width:.0f}" height="{height:.0f}" alt="{html.escape(alt)}"></div>'
        f'<div class="eom-player-controls"><button type="button" class="eom-player-play" '
        f'aria-label="play">&#9654;</button>'
        + _slider(uid, "v", name, len(labels), 0, readouts[0]) + "</div>"
        f"<script>(function(){{const root=document.getElementById({json.dumps(uid)});"
        f"const frames={json.dumps(uris)};const readouts={_js(readouts)};"
        "const img=root.querySelector('img.eom-player-frame');"
        "const slider=root.querySelector('input[type=range]');"
        "const out=root.querySelector('output');let timer=null;"
        "function show(i){slider.value=i;img.src=frames[i];out.textContent=readouts[i];}"
        "slider.addEventListener('input',()=>show(parseInt(slider.value)));"
        "root.querySelector('button').addEventListener('click',function(){"
        "if(timer){clearInterval(timer);timer=null;this.innerHTML='&#9654;';return;}"
        "if(parseInt(slider.value)>=frames.length-1)show(0);this.innerHTML='&#10074;&#10074;';"
        "const button=this;timer=setInterval(function(){const i=parseInt(slider.value)+1;"
        "if(i>=frames.length){clearInterval(timer);timer=null;button.innerHTML='&#9654;';return;}"
        f"show(i);}},{int(interval_ms)});}});}})();</script></div>"
    )
    return HTML(_CSS + body)


def _svg_style(style: Mapping, scale: float) -> dict:
    from matplotlib.colors import to_hex

    color = to_hex(style.get("color", "black"))  # matplotlib names ("tab:blue") → #rrggbb
    width = float(style.get("width", 2.0)) * scale
    radius = float(style.get("radius", 0.0)) * scale
    return {"color": color, "width": width, "radius": radius,
            "head": max(1.6 * radius, 1.3 * width + 2.5 * scale),
            "dash": " ".join(str(float(d) * scale) for d in str(style.get("dash", "")).split()),
            "line": bool(style.get("line", True)), "fill": to_hex(style.get("fill", color))}


def time_player(fig, ax, runs: Mapping[str, np.ndarray], lrs: Sequence[float], *,
                styles: Mapping[str, Mapping], alt: str, name: str = "η",
                value_format: str = "{:.3g}", start_lr: int = 0, interval_ms: int = 120,
                scale: float = 2.0):
    r"""A kernel-free player in time: curves grow step by step over a fixed background.

    ``fig`` is drawn once, as it is (e.g. the loss's contours, axis labels and a legend),
    at ``scale`` × its dpi and cropped to what is drawn.  Each run ``runs[c][i]`` is a
    path of ``n + 1`` points in ``ax``'s data coordinates, at the GD times
    :math:`t_k = k\eta_i` (k = 0…n) for learning rate ``lrs[i]``; the browser draws the
    first k + 1 points of every run of the chosen η, clipped to ``ax``, and a larger dot at
    the current point.  The readouts say ``η = …`` and ``step k = …, t = kη = …``.  The
    player opens at the last step, so that the static page shows the whole run; the play
    button runs it from k = 0.  ``fig`` is closed afterwards.

    Args:
        fig: the matplotlib ``Figure`` holding the background; nothing is added to it.
        ax: the ``Axes`` of ``fig`` whose data coordinates the runs are in (a linear scale).
        runs: curve name → array of shape (len(lrs), n + 1, 2), the points of that curve for
            every learning rate (the same n for all).
        lrs: the learning rates η_i > 0, in the order of the runs' first axis.
        styles: keyword only; curve name → a dict with ``color`` (CSS colour), ``width``
            (line width in figure pixels, 0 for none), ``radius`` (dot radius in figure
            pixels at every point, 0 for none) and optionally ``dash`` (an SVG dash array
            such as ``"6 3"``), ``line`` (False: dots only).  Every curve of ``runs`` needs
            one; :data:`eomlib.book.plots.PLAYER_STYLES` holds the book's.
        alt: keyword only; the alternative text, one sentence saying what the player shows.
        name: keyword only; the parameter's name (default ``"η"``).
        value_format: keyword only; the format of η and t in the readouts (default
            ``"{:.3g}"``).
        start_lr: keyword only; the index of the learning rate shown first (default 0).
        interval_ms: keyword only; the time between steps when playing, in ms, > 0.
        scale: keyword only; output pixels per figure pixel, in [1, 4] (default 2).

    Returns:
        An ``IPython.display.HTML`` object.

    Raises:
        ValueError: if fewer than two learning rates or steps are given, the runs' shapes
            disagree, a run is not finite, a curve has no style, or a number is out of range.

    Example:
        >>> from eomlib.book import players, plots
        >>> # fig, ax with contours; gd, gf: arrays (len(lrs), n + 1, 2)
        >>> players.time_player(fig, ax, {"gd": gd, "gf": gf}, lrs, styles=plots.PLAYER_STYLES,
        ...                     alt="GD steps along the gradient-flow curve")
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML

    lrs = [float(lr) for lr in lrs]
    _check_common(len(lrs), "lrs", interval_ms, scale)
    if not all(math.isfinite(lr) and lr > 0 for lr in lrs):
        raise ValueError(f"lrs must be finite learning rates > 0, got {lrs}.")
    if not runs:
        raise ValueError("runs must hold at least one curve.")
    arrays = {c: np.asarray(r, dtype=float) for c, r in runs.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3 or next(iter(shapes))[0] != len(lrs) \
            or next(iter(shapes))[2] != 2 or next(iter(shapes))[1] < 2:
        raise ValueError("every run must have shape (len(lrs), n + 1, 2) with n ≥ 1, got "
                         f"{ {c: a.shape for c, a in arrays.items()} } for {len(lrs)} learning rates.")
    for c, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"run {c!r} is not finite; a player draws finite paths only.")
    missing = [c for c in arrays if c not in styles]
    if missing:
        raise ValueError(f"no style for the curves {missing}; give styles[c] for each.")
    if not (isinstance(start_lr, int) and 0 <= start_lr < len(lrs)):
        raise ValueError(f"start_lr must be an index in [0, {len(lrs) - 1}], got {start_lr!r}.")
    n_steps = next(iter(shapes))[1] - 1

    rgb, box = render_frame(fig, scale)
    x0, y0, x1, y1 = _union([box], rgb.shape)
    # pixel coordinates (from the top left of the cropped image) while drawn at scale × dpi
    dpi = fig.dpi
    fig.set_dpi(dpi * scale)
    try:
        fig.canvas.draw()
        h = rgb.shape[0]

        def to_px(xy):
            p = ax.transData.transform(xy.reshape(-1, 2))
            return np.stack([p[:, 0] - x0, h - p[:, 1] - y0], axis=-1).reshape(xy.shape)

        paths = {c: np.round(to_px(a), 1).tolist() for c, a in arrays.items()}
        clip = ax.bbox
        clip_box = [clip.x0 - x0, h - clip.y1 - y0, clip.width, clip.height]
    finally:
        fig.set_dpi(dpi)
    plt.close(fig)
    uri = _png(rgb[y0:y1, x0:x1])
    w_px, h_px = x1 - x0, y1 - y0
    css = {c: _svg_style(styles[c], scale) for c in arrays}
    uid = "eomp-" + _uid(uri)
    lr_text = [value_format.format(lr) for lr in lrs]
    times = [[value_format.format(k * lr) for k in range(n_steps + 1)] for lr in lrs]
    data = {"paths": paths, "styles": css, "lrs": lr_text, "times": times, "n": n_steps,
            "clip": [round(v, 1) for v in clip_box], "name": name}
    body = (
        f'<div class="eom-player eom-time-player" id="{uid}">'
        f'<div class="eom-player-view"><img class="eom-player-frame" src="{uri}" '
        f'width="{w_px / scale:.0f}" height="{h_px / scale:.0f}" alt="{html.escape(alt)}">'
        f'<svg class="eom-player-overlay" viewBox="0 0 {w_px} {h_px}" aria-hidden="true" '
        f'xmlns="http://www.w3.org/2000/svg"></svg></div>'
        '<div class="eom-player-controls">'
        + _slider(uid, "v", name, len(lrs), start_lr, f"{name} = {lr_text[start_lr]}")
        + '</div><div class="eom-player-controls"><button type="button" class="eom-player-play" '
        'aria-label="play">&#9654;</button>'
        + _slider(uid, "t", "step k", n_steps + 1, n_steps,
                  f"k = {n_steps}, t = k{name} = {times[start_lr][n_steps]}")
        + "</div>"
        f"<script>(function(){{const root=document.getElementById({json.dumps(uid)});"
        f"const D={_js(data)};"
        r"""const svg=root.querySelector('svg');const ns='http://www.w3.org/2000/svg';
const st=root.querySelector('input[data-key=t]'),sv=root.querySelector('input[data-key=v]');
const ot=document.getElementById(st.dataset.readout),ov=document.getElementById(sv.dataset.readout);
let timer=null;const cid=root.id+'-clip';
function el(tag,attrs){const e=document.createElementNS(ns,tag);for(const a in attrs)e.setAttribute(a,attrs[a]);return e;}
function draw(){const k=parseInt(st.value),v=parseInt(sv.value);svg.innerHTML='';
const defs=el('defs',{});const cp=el('clipPath',{id:cid});const c=D.clip;
cp.appendChild(el('rect',{x:c[0],y:c[1],width:c[2],height:c[3]}));defs.appendChild(cp);svg.appendChild(defs);
const g=el('g',{'clip-path':'url(#'+cid+')'});svg.appendChild(g);
for(const name in D.paths){const s=D.styles[name];const pts=D.paths[name][v].slice(0,k+1);
if(s.line&&s.width>0&&pts.length>1){const attrs={points:pts.map(p=>p.join(',')).join(' '),fill:'none',
stroke:s.color,'stroke-width':s.width,'stroke-linejoin':'round','stroke-linecap':'round'};
if(s.dash)attrs['stroke-dasharray']=s.dash;g.appendChild(el('polyline',attrs));}
if(s.radius>0)for(const p of pts)g.appendChild(el('circle',{cx:p[0],cy:p[1],r:s.radius,fill:'none',stroke:s.color,'stroke-width':Math.max(1,s.width*0.6)}));
const q=pts[pts.length-1];g.appendChild(el('circle',{cx:q[0],cy:q[1],r:s.head,fill:s.fill,stroke:'white','stroke-width':2}));}
ov.textContent=D.name+' = '+D.lrs[v];ot.textContent='k = '+k+', t = k'+D.name+' = '+D.times[v][k];}
st.addEventListener('input',draw);sv.addEventListener('input',draw);
root.querySelector('button').addEventListener('click',function(){const b=this;
if(timer){clearInterval(timer);timer=null;b.innerHTML='&#9654;';return;}
if(parseInt(st.value)>=D.n)st.value=0;draw();b.innerHTML='&#10074;&#10074;';
timer=setInterval(function(){const k=parseInt(st.value)+1;if(k>D.n){clearInterval(timer);timer=null;b.innerHTML='&#9654;';return;}
st.value=k;draw();},"""
        + f"{int(interval_ms)});}});draw();}})();</script></div>"
    )
    return HTML(_CSS + body)
