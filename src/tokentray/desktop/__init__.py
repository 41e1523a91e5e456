"""Desktop integration with no Qt: the shipped resources (icons, desktop entry, AppStream
metainfo), installing them for a pip or pipx install, and starting at login (one small
module per platform: ``autostart_linux``, ``autostart_macos``, ``autostart_windows``)."""
