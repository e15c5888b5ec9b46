-- The 20 traits of traits.yaml and the 10 audiences of audiences.yaml, hand-written as one DuckDB
-- script over the views events, profiles and identities (the Parquet files of `cdp profiles resolve`).
-- The practical ceiling for bench/traits_bench.py: one scan of the events, every JSON property
-- parsed once, one GROUP BY for the counters and aggregates, ASOF joins for the funnels.
-- Semantics as docs/traits.md and docs/audiences.md: as_of = the latest timestamp; windows to the
-- hour (within: as_of - N <= ts <= as_of; between: start <= ts < end); a number is a JSON number;
-- values are JSON scalars as text; first/last ordered by timestamp, received_at, messageId, file,
-- line, batch position (missing ones first).

CREATE OR REPLACE MACRO is_num(j) AS json_type(j) IN ('BIGINT', 'UBIGINT', 'DOUBLE');
CREATE OR REPLACE MACRO num(j) AS CASE WHEN is_num(j) THEN CAST(json_extract_string(j, '$') AS DOUBLE) END;
CREATE OR REPLACE MACRO scalar(j) AS
    CASE WHEN json_type(j) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN') THEN json_extract_string(j, '$') END;
CREATE OR REPLACE MACRO str(j) AS CASE WHEN json_type(j) = 'VARCHAR' THEN json_extract_string(j, '$') END;

CREATE OR REPLACE TEMP TABLE run_as_of AS SELECT max(timestamp) AS t FROM events;

-- one pass over the events: selection keys, order key, and each property read, parsed once
CREATE OR REPLACE TEMP TABLE ev AS
WITH raw AS (
    SELECT e.profile_id, e.type, e.event, e.timestamp AS ts,
           struct_pack(ts := e.timestamp, r := coalesce(e.received_at, '-infinity'::TIMESTAMPTZ),
                       m := coalesce(e.message_id, ''), f := e.file, l := e.line,
                       b := coalesce(e.batch_index, -1)) AS k,
           CASE WHEN e.type = 'track' AND e.event IN ('Order Completed', 'Product Viewed', 'Products Searched')
                THEN json_extract(e.properties, ['$."revenue"', '$."currency"', '$."coupon"', '$."discount"',
                                                 '$."products"[0]."price"', '$."price"', '$."category"',
                                                 '$."brand"', '$."query"']) END AS j
    FROM events e, run_as_of
    WHERE e.profile_id IS NOT NULL AND e.timestamp IS NOT NULL AND e.timestamp <= run_as_of.t
)
SELECT profile_id, type, event, ts, k,
       num(j[1]) AS revenue_n, str(j[2]) AS currency_s, scalar(j[2]) AS currency_v,
       json_type(j[3]) IS NOT NULL AND json_type(j[3]) <> 'NULL' AS coupon_exists, scalar(j[3]) AS coupon_v,
       num(j[4]) AS discount_n, scalar(j[5]) AS p0price_v, num(j[6]) AS price_n, scalar(j[7]) AS category_v,
       scalar(j[8]) AS brand_v, str(j[9]) AS query_s, scalar(j[9]) AS query_v,
       ts >= run_as_of.t - INTERVAL 168 HOUR AS in_7d, ts >= run_as_of.t - INTERVAL 336 HOUR AS in_14d,
       ts >= run_as_of.t - INTERVAL 672 HOUR AS in_4w, ts >= run_as_of.t - INTERVAL 72 HOUR AS in_72h,
       ts >= run_as_of.t - INTERVAL 48 HOUR AS in_48h, ts >= run_as_of.t - INTERVAL 24 HOUR AS in_24h,
       ts >= run_as_of.t - INTERVAL 240 HOUR AS in_10d,
       type = 'track' AND event = 'Order Completed' AS oc,
       type = 'track' AND event = 'Product Viewed' AS pv,
       type = 'track' AND event = 'Products Searched' AS ps
FROM raw, run_as_of;

CREATE OR REPLACE TEMP TABLE agg AS
SELECT profile_id,
    count(*) FILTER (WHERE oc AND in_7d) AS orders_7d,
    count(*) FILTER (WHERE oc AND ts >= TIMESTAMPTZ '2026-11-01 00:00:00+00' AND ts < TIMESTAMPTZ '2026-11-08 00:00:00+00') AS orders_first_week,
    count(*) FILTER (WHERE oc AND revenue_n > 100) AS big_orders,
    count(*) FILTER (WHERE oc AND in_14d AND currency_s IN ('USD', 'EUR') AND NOT coupon_exists) AS usd_eur_orders_14d,
    sum(revenue_n) FILTER (WHERE oc) AS revenue_total,
    avg(revenue_n) FILTER (WHERE oc) AS average_order_revenue,
    min(price_n) FILTER (WHERE pv) AS cheapest_viewed_price,
    max(discount_n) FILTER (WHERE oc AND in_7d) AS largest_discount_7d,
    arg_min(currency_v, k) FILTER (WHERE oc AND currency_v IS NOT NULL) AS first_order_currency,
    arg_max(coupon_v, k) FILTER (WHERE oc AND coupon_exists AND coupon_v IS NOT NULL) AS last_coupon_used,
    arg_max(p0price_v, k) FILTER (WHERE oc AND p0price_v IS NOT NULL) AS latest_order_first_product_price,
    arg_min(query_v, k) FILTER (WHERE ps AND contains(query_s, 'e') AND query_v IS NOT NULL) AS first_search_with_e,
    list(DISTINCT brand_v ORDER BY brand_v) FILTER (WHERE pv AND brand_v IS NOT NULL) AS brands_viewed,
    count(DISTINCT category_v) FILTER (WHERE pv AND in_4w) AS categories_viewed_count,
    count(*) FILTER (WHERE type = 'page' AND event = 'Checkout' AND in_7d) AS checkout_pages_7d,
    count(*) FILTER (WHERE type = 'page') AS pages_viewed,
    count(*) FILTER (WHERE type = 'screen' AND event = 'Cart' AND in_48h) AS app_cart_views_48h,
    -- audience leaves
    count(*) FILTER (WHERE type = 'track' AND event = 'Coupon Applied' AND ts >= (SELECT t FROM run_as_of) - INTERVAL 72 HOUR) AS coupons_3d,
    count(*) FILTER (WHERE pv AND ts >= (SELECT t FROM run_as_of) - INTERVAL 72 HOUR) AS views_3d,
    count(*) FILTER (WHERE oc AND ts >= (SELECT t FROM run_as_of) - INTERVAL 72 HOUR) AS orders_3d,
    count(*) FILTER (WHERE type = 'track' AND event = 'Checkout Started'
                     AND ts >= TIMESTAMPTZ '2026-11-10 00:00:00+00' AND ts < TIMESTAMPTZ '2026-11-13 00:00:00+00') AS checkouts_10_13,
    count(*) FILTER (WHERE pv AND price_n > 100 AND in_24h AND in_10d) AS pricey_views_24h,
    count(*) FILTER (WHERE pv AND price_n > 100 AND in_10d) AS pricey_views_10d
FROM ev GROUP BY profile_id;

CREATE OR REPLACE TEMP TABLE mf AS
WITH c AS (
    SELECT profile_id, 'category' AS p, category_v AS v, count(*) AS n FROM ev
    WHERE pv AND category_v IS NOT NULL GROUP BY ALL HAVING count(*) >= 2
    UNION ALL
    SELECT profile_id, 'brand', brand_v, count(*) FROM ev
    WHERE pv AND in_72h AND brand_v IS NOT NULL GROUP BY ALL HAVING count(*) >= 3
)
SELECT profile_id,
    arg_min(v, (-n, v)) FILTER (WHERE p = 'category') AS favourite_category,
    arg_min(v, (-n, v)) FILTER (WHERE p = 'brand') AS favourite_brand_72h
FROM c GROUP BY profile_id;

CREATE OR REPLACE TEMP TABLE hand_traits AS
SELECT p.profile_id,
    coalesce(a.orders_7d, 0) AS orders_7d, coalesce(a.orders_first_week, 0) AS orders_first_week,
    coalesce(a.big_orders, 0) AS big_orders, coalesce(a.usd_eur_orders_14d, 0) AS usd_eur_orders_14d,
    a.revenue_total, a.average_order_revenue, a.cheapest_viewed_price, a.largest_discount_7d,
    m.favourite_category, m.favourite_brand_72h,
    a.first_order_currency, a.last_coupon_used, a.latest_order_first_product_price, a.first_search_with_e,
    a.brands_viewed, coalesce(a.categories_viewed_count, 0) AS categories_viewed_count,
    coalesce(a.checkout_pages_7d, 0) AS checkout_pages_7d, coalesce(a.pages_viewed, 0) AS pages_viewed,
    coalesce(a.app_cart_views_48h, 0) AS app_cart_views_48h,
    s.identify_calls
FROM profiles p
LEFT JOIN agg a USING (profile_id)
LEFT JOIN mf m USING (profile_id)
LEFT JOIN (SELECT profile_id, count(*) AS identify_calls FROM events
           WHERE type = 'identify' AND profile_id IS NOT NULL GROUP BY profile_id) s USING (profile_id)
ORDER BY p.profile_id;

-- funnels: each A against the first B strictly after it (ASOF join), B within the window
CREATE OR REPLACE TEMP TABLE funnels AS
WITH added AS (SELECT profile_id, ts FROM ev WHERE type = 'track' AND event = 'Product Added' AND in_4w),
     ordered4w AS (SELECT profile_id, ts FROM ev WHERE oc AND in_4w),
     viewed AS (SELECT profile_id, ts FROM ev WHERE pv),
     ordered AS (SELECT profile_id, ts FROM ev WHERE oc),
     abandoned AS (
        SELECT a.profile_id, bool_or(b.ts IS NULL OR b.ts > a.ts + INTERVAL 24 HOUR) AS hit
        FROM added a ASOF LEFT JOIN ordered4w b ON a.profile_id = b.profile_id AND b.ts > a.ts
        GROUP BY a.profile_id),
     bought AS (
        SELECT a.profile_id, bool_or(b.ts <= a.ts + INTERVAL 2 HOUR) AS hit
        FROM viewed a ASOF JOIN ordered b ON a.profile_id = b.profile_id AND b.ts > a.ts
        GROUP BY a.profile_id)
SELECT p.profile_id, coalesce(ab.hit, false) AS abandoned_cart, coalesce(bo.hit, false) AS viewed_then_bought
FROM profiles p LEFT JOIN abandoned ab USING (profile_id) LEFT JOIN bought bo USING (profile_id);

CREATE OR REPLACE TEMP TABLE hand_audiences AS
WITH known AS (SELECT DISTINCT profile_id FROM identities WHERE type IN ('user_id', 'email')),
b AS (
    SELECT p.profile_id, k.profile_id IS NOT NULL AS known,
        coalesce(a.orders_7d, 0) >= 2 AS repeat_buyers,
        NOT (coalesce(a.coupons_3d, 0) >= 1) AS no_recent_coupon,
        coalesce(t.revenue_total > 200, false) AS big_spenders,
        coalesce(t.favourite_category IN ('Books', 'Games', 'Music'), false) AND t.pages_viewed >= 3
            AND t.last_coupon_used IS NULL AS category_fans,
        (coalesce(a.views_3d, 0) >= 5 AND NOT (coalesce(a.orders_3d, 0) >= 1))
            OR coalesce(a.checkouts_10_13, 0) = 1 AS browsers_not_buyers,
        coalesce(json_type(p.traits, '$."accepts_marketing"') = 'BOOLEAN'
                 AND json_extract_string(p.traits, '$."accepts_marketing"') = 'true', false)
        AND coalesce(json_type(p.traits, '$."createdAt"') = 'VARCHAR'
                 AND TRY_CAST(json_extract_string(p.traits, '$."createdAt"') AS TIMESTAMPTZ)
                     BETWEEN (SELECT t FROM run_as_of) - INTERVAL 168 HOUR AND (SELECT t FROM run_as_of), false)
        AND coalesce(json_type(p.traits, '$."address"."country"') NOT IN ('NULL')
                 AND NOT (json_type(p.traits, '$."address"."country"') = 'VARCHAR'
                          AND json_extract_string(p.traits, '$."address"."country"') IN ('US')), false)
            AS new_marketing_optins,
        coalesce(a.pricey_views_24h, 0) <= 2 AND coalesce(a.pricey_views_10d, 0) >= 1 AND t.orders_7d = 0
            AS pricey_window_shoppers,
        t.orders_7d >= 1 AS ordered_7d,
        f.abandoned_cart, f.viewed_then_bought
    FROM profiles p
    LEFT JOIN known k USING (profile_id)
    LEFT JOIN agg a USING (profile_id)
    LEFT JOIN hand_traits t USING (profile_id)
    LEFT JOIN funnels f USING (profile_id)
)
SELECT profile_id,
    known AND repeat_buyers AS repeat_buyers,
    known AND no_recent_coupon AS no_recent_coupon,
    known AND big_spenders AS big_spenders,
    known AND ((known AND repeat_buyers) OR ((known AND big_spenders) AND ordered_7d)) AS vip,
    abandoned_cart,
    known AND viewed_then_bought AS viewed_then_bought,
    known AND category_fans AS category_fans,
    browsers_not_buyers,
    known AND new_marketing_optins AS new_marketing_optins,
    known AND pricey_window_shoppers AS pricey_window_shoppers
FROM b ORDER BY profile_id;

-- every audience's members with their identifiers (type:value, sorted), as cdp's member files hold them
CREATE OR REPLACE TEMP TABLE hand_members AS
WITH m AS (
    SELECT audience, profile_id FROM hand_audiences
    UNPIVOT (member FOR audience IN (repeat_buyers, no_recent_coupon, big_spenders, vip, abandoned_cart,
                                      viewed_then_bought, category_fans, browsers_not_buyers,
                                      new_marketing_optins, pricey_window_shoppers))
    WHERE member
),
ids AS (
    SELECT profile_id, list(type || ':' || value ORDER BY type, value) AS identifiers FROM identities
    WHERE profile_id IN (SELECT profile_id FROM m) GROUP BY profile_id
)
SELECT m.audience, m.profile_id, coalesce(ids.identifiers, CAST([] AS VARCHAR[])) AS identifiers
FROM m LEFT JOIN ids USING (profile_id)
ORDER BY m.audience, m.profile_id;
