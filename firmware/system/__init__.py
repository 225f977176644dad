"""Operating-system facts the recorder depends on: clock state, systemd, disks."""
