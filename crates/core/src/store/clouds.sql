-- The Microsoft cloud of each tenant (global, gcc, gcchigh, dod): an MSP watches
-- commercial and GCC customers from one install. NULL for tenants added before it was
-- recorded, which are read in the installation's cloud.
ALTER TABLE tenants ADD COLUMN cloud TEXT CHECK (cloud IN ('global', 'gcc', 'gcchigh', 'dod'));
