"""Small widgets shared by the monitor's screens."""
