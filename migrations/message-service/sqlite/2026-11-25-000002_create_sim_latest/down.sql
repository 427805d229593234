DROP TABLE sim_latest;
