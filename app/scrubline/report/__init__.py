"""The post-op PDF debrief (reportlab), generated from the case store; Qt-free."""
