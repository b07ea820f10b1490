DROP TABLE IF EXISTS flowd_workers;
