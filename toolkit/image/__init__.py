"""What goes on flash: model images, the partition table, application images."""
