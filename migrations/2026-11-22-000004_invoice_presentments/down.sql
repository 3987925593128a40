DROP TABLE invoice_presentments;
