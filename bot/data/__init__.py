"""Historical candles: downloading them from an exchange and keeping them in feather files."""
