"""Waves: near-duplicate comments from many accounts (``content.repeated``) and bursts of one
author (``author.burst``), with their state in Redis (the daemon) or in memory (replay, check).
"""
