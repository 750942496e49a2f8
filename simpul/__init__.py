"""simpul"""
