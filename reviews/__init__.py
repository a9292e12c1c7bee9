"""Reviews: verified reviews of completed services, shop scores, certification and plaques."""
