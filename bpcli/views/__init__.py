"""Views read an evaluated result and show it; they never recompute anything."""
