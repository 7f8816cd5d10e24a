"""The window's colours: dark by default (surgical video is judged by colour, and a bright frame
around it skews how it looks), or Fusion's light palette (Preferences → Theme)."""

from __future__ import annotations

from typing import Any

THEMES = ("dark", "light")


def dark_palette() -> Any:
    """A dark palette: surgical video is judged by colour, and a bright frame around it skews it."""
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    roles = QPalette.ColorRole
    for role, rgb in (
        (roles.Window, (38, 40, 44)),
        (roles.WindowText, (225, 225, 225)),
        (roles.Base, (28, 30, 33)),
        (roles.AlternateBase, (44, 46, 51)),
        (roles.ToolTipBase, (250, 250, 220)),
        (roles.ToolTipText, (20, 20, 20)),
        (roles.Text, (225, 225, 225)),
        (roles.Button, (52, 55, 60)),
        (roles.ButtonText, (225, 225, 225)),
        (roles.BrightText, (255, 80, 80)),
        (roles.Highlight, (66, 133, 244)),
        (roles.HighlightedText, (255, 255, 255)),
        (roles.PlaceholderText, (140, 140, 140)),
    ):
        palette.setColor(role, QColor(*rgb))
    palette.setColor(QPalette.ColorGroup.Disabled, roles.Text, QColor(120, 120, 120))
    palette.setColor(QPalette.ColorGroup.Disabled, roles.ButtonText, QColor(120, 120, 120))
    palette.setColor(QPalette.ColorGroup.Disabled, roles.WindowText, QColor(120, 120, 120))
    return palette


def light_palette() -> Any:
    """Fusion's own light palette."""
    from PySide6.QtWidgets import QApplication

    return QApplication.style().standardPalette()


def apply_theme(theme: str) -> None:
    """Dark or light, for the whole application."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if isinstance(app, QApplication):
        app.setPalette(dark_palette() if theme == "dark" else light_palette())
