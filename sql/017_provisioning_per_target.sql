-- Provisioning routes each request of igi.event_out to the Secret Server instance its target names (issue 19).
-- An account is (target, lower(code)): the same name on two instances is two accounts, and neither's requests
-- wait for the other's. The claim finds the head of a request's account queue with one probe of this index.
-- A NULL target stands for the default instance's target, so the default instance's account queue is the
-- entries of both keys '' (NULL) and that target; the claim probes both (connectors/igi/queue.py).

DROP INDEX igi.event_out_account_order_idx;
CREATE INDEX event_out_account_order_idx ON igi.event_out (lower(code), coalesce(target, ''), event_id)
    WHERE state = 1;
