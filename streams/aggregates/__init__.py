"""The aggregates processor: windowed metrics per regency x dimension."""
