"""Road test kit: scripted NMEA journeys, a real gpsd fed at an exact pace, the real GeoClue
daemon on a private system bus. See each module."""
