"""strukturbild: structure images for regional planning from open statistics."""
