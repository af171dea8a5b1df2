"""Sites, strings (racks), modules and edge devices: the asset registry."""
