-- Stock movements: one open stock take per store at a time (counting or waiting for approval),
-- so two people starting a count of the same store at once get one sheet, not two.

CREATE UNIQUE INDEX stock_takes_open ON stock_takes (store_id) WHERE state IN ('counting', 'submitted');
