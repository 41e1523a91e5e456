"""The tray icon, drawn at run time: a short figure on a badge coloured by budget state."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QIcon, QPainter, QPen, QPixmap

from tokentray.dashboard.live import LiveSnapshot
from tokentray.plans import PlanWindow

ICON_SIZES = (16, 22, 24, 32, 48, 64)
# Badge colours per budget state: readable white text, distinct on light and dark panels
# (each badge has a darker rim so it stands out on a panel of the same hue).
STATE_COLOURS = {
    "normal": QColor("#1f8a5b"),
    "warning": QColor("#c77800"),
    "over": QColor("#c62828"),
    "stale": QColor("#6b7280"),
}


def short_money(usd: float) -> str:
    """$7, $12, $1.2k, 42¢: at most four characters, for a 16-pixel icon."""
    if usd < 0.995:
        return f"{round(usd * 100):d}¢"
    if usd < 999.5:
        return f"${usd:.0f}"
    if usd < 9_950:
        return f"${usd / 1000:.1f}k"
    if usd < 999_500:
        return f"${usd / 1000:.0f}k"
    return f"${usd / 1_000_000:.1f}M"


def icon_text(snap: LiveSnapshot, mode: str) -> str:
    """The figure on the icon; a dash until any agent has logged a request (a grey 0¢
    looks like a measurement). In plan mode, the nearest plan window's percentage (the
    spend while no window is known)."""
    plan = snap.nearest_plan
    if mode == "plan" and plan is not None:
        return f"{min(plan.used_pct, 999):.0f}%"
    if snap.last_event_ms is None and not snap.today_tokens:
        return "–"
    return short_money(snap.burn_usd_per_hour if mode == "burn" else snap.today_cost_usd)


def icon_state(snap: LiveSnapshot, mode: str = "spend") -> str:
    if snap.stale or not snap.sources_found:
        return "stale"
    plan = snap.nearest_plan
    if mode == "plan" and plan is not None:
        return plan_state(plan)
    return snap.budget_state


def plan_state(plan: PlanWindow) -> str:
    """Red when full or heading past full before the reset; amber from 80% or a pace
    above 1.2 (a fifth faster than the window allows); green otherwise."""
    if plan.used_pct >= 95 or plan.runs_out_in_ms is not None:
        return "over"
    if plan.used_pct >= 80 or (plan.pace or 0) > 1.2:
        return "warning"
    return "normal"


def render(text: str, state: str, size: int, burn: bool = False, paused: bool = False) -> QPixmap:
    """One icon bitmap: the figure fills the badge as far as it fits."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    if state == "stale":
        painter.setOpacity(0.65)  # dimmed: the figure may be out of date
    colour = STATE_COLOURS.get(state, STATE_COLOURS["normal"])
    rim = max(1.0, size / 16)
    badge = QRectF(rim / 2, rim / 2, size - rim, size - rim)
    painter.setPen(QPen(colour.darker(160), rim))
    painter.setBrush(colour)
    painter.drawRoundedRect(badge, size * 0.22, size * 0.22)
    if burn:  # a rate, not a total: a small flame-coloured bar along the bottom
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#ffd54f"))
        painter.drawRect(QRectF(size * 0.2, size * 0.84, size * 0.6, max(1.0, size * 0.08)))
    if size <= 16 and len(text) >= 3 and text.startswith("$"):
        text = text[1:]  # two more pixels per glyph matter more than the $ at this size
    painter.setPen(QColor("#ffffff"))
    painter.setFont(_fitting_font(text, badge.width() * 0.92, badge.height() * 0.8))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
    if paused and size >= 22:
        _pause_mark(painter, size)
    painter.end()
    return pixmap


def _pause_mark(painter: QPainter, size: int) -> None:
    """Two bars on a dark disc in the top-right corner: an agent is paused."""
    disc = size * 0.36
    corner = QRectF(size - disc, 0, disc, disc)
    painter.setOpacity(1.0)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#1e3a8a"))
    painter.drawEllipse(corner)
    painter.setBrush(QColor("#ffffff"))
    bar_w, bar_h = disc * 0.16, disc * 0.5
    top = corner.top() + (disc - bar_h) / 2
    for left in (corner.left() + disc * 0.3, corner.left() + disc * 0.54):
        painter.drawRect(QRectF(left, top, bar_w, bar_h))


def _fitting_font(text: str, width: float, height: float) -> QFont:
    font = QFont("DejaVu Sans Condensed")
    font.setStyleHint(QFont.StyleHint.SansSerif)
    font.setBold(True)
    pixel = max(6.0, height)
    while pixel > 6:
        font.setPixelSize(int(pixel))
        metrics = QFontMetricsF(font)
        if metrics.horizontalAdvance(text) <= width and metrics.capHeight() <= height:
            break
        pixel -= 0.5
    return font


def make_icon(snap: LiveSnapshot, mode: str) -> QIcon:
    icon = QIcon()
    text, state = icon_text(snap, mode), icon_state(snap, mode)
    paused = bool(snap.paused_agents)
    for size in ICON_SIZES:
        icon.addPixmap(render(text, state, size, burn=mode == "burn", paused=paused))
    return icon
