-- The stock page lists a store's drugs a page at a time in name order: read in the order of
-- this index, a page needs no sort of the whole catalogue.
CREATE INDEX drugs_listing ON drugs ((LOWER(generic_name)), strength, id);
