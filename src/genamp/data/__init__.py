"""Events from files (user samples) and, later, physics event generation."""
