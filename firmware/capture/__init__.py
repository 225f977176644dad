"""Everything between the camera sensor and encoded H.264 packets, plus motion detection."""
