DROP TABLE collection_goals;
