DROP INDEX invoices_open_due_idx;
DROP TABLE placement_recoveries, placement_invoices, agency_placements, notices, dunning_actions,
    dunning_runs, service_orders, promise_invoices, promise_instalments, promises, account_notes,
    collection_profiles, assignment_rules, dunning_steps, dunning_policies;
DROP SEQUENCE notice_numbers, service_order_numbers;
