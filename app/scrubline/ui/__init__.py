"""Everything Qt: the main window, player, overlays, timeline and dialogs over the Qt-free core."""
