"""Figures and tables made from records and models (matplotlib, pandas); nothing here trains or measures."""
