"""Density models of vectors and fixed-size images: NADE, MADE, RNADE, MAF, IAF."""
