"""Bring your own data, tried on data nobody here wrote: public tables, exported as a real export looks."""
