"""Things drawn for a person: the tray icon, charts, pages, exercise pictures."""
