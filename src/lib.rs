//! Receivables: the accounts-receivable service. This file builds the application; `main.rs`
//! only reads configuration and runs it, and the tests build it the same way.

pub mod accounts;
pub mod adjustments;
pub mod audit;
pub mod auth;
pub mod bank_files;
pub mod billing;
pub mod clock;
pub mod collections;
pub mod config;
pub mod context;
pub mod contracts;
pub mod credit;
pub mod credit_memos;
pub mod db;
pub mod disputes;
pub mod equipment;
pub mod error;
pub mod export;
pub mod extract;
pub mod financial_codes;
pub mod idempotency;
pub mod integrations;
pub mod invoices;
pub mod ledger;
pub mod local_pg;
pub mod money;
pub mod observability;
pub mod openapi;
pub mod operations;
pub mod outbox;
pub mod pagination;
pub mod partners;
pub mod payments;
pub mod pdf;
pub mod readings;
pub mod refusal;
pub mod reports;
pub mod schema;
pub mod seed;
pub mod settings;
pub mod signature;
pub mod state;
pub mod tasks;
pub mod validate;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};
use utoipa::OpenApi;
use utoipa_actix_web::{scope, service_config::ServiceConfig, AppExt};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::KeySet;
use crate::clock::Clock;
use crate::db::DbPool;
use crate::observability::Metrics;
use crate::openapi::RouteTable;
pub use crate::settings::Config;
pub use crate::state::AppState;

/// The versioned API: every resource's handlers.
fn v1(cfg: &mut ServiceConfig) {
    cfg.service(partners::routes::create_partner)
        .service(partners::routes::list_partners)
        .service(partners::routes::get_partner)
        .service(partners::routes::update_partner)
        .service(accounts::routes::create_account)
        .service(accounts::routes::list_accounts)
        .service(accounts::routes::get_account)
        .service(accounts::routes::account_family)
        .service(accounts::routes::update_account)
        .service(accounts::routes::close_account)
        .service(accounts::routes::account_history)
        .service(accounts::activity::account_activity)
        .service(accounts::statement::account_statement)
        .service(accounts::statement::family_statement)
        .service(accounts::contacts::create_contact)
        .service(accounts::contacts::list_contacts)
        .service(accounts::contacts::update_contact)
        .service(accounts::contacts::delete_contact)
        .service(financial_codes::routes::create_financial_code)
        .service(financial_codes::routes::list_financial_codes)
        .service(financial_codes::routes::get_financial_code)
        .service(financial_codes::routes::update_financial_code)
        .service(financial_codes::routes::deactivate_financial_code)
        .service(financial_codes::routes::activate_financial_code)
        .service(contracts::routes::create_contract)
        .service(contracts::routes::list_contracts)
        .service(contracts::routes::get_contract)
        .service(contracts::routes::update_contract)
        .service(contracts::routes::activate_contract)
        .service(contracts::amendments::create_amendment)
        .service(contracts::reconciliation::contract_reconciliation)
        .service(equipment::routes::create_equipment)
        .service(equipment::routes::list_equipment)
        .service(equipment::routes::get_equipment)
        .service(equipment::routes::update_equipment)
        .service(equipment::routes::create_meter)
        .service(equipment::routes::get_meter)
        .service(readings::routes::create_reading)
        .service(readings::routes::list_readings)
        .service(readings::routes::create_reading_batch)
        .service(readings::routes::void_reading)
        .service(readings::routes::correct_reading)
        .service(billing::routes::create_billing_run)
        .service(billing::routes::list_billing_runs)
        .service(billing::routes::get_run)
        .service(invoices::routes::create_invoice)
        .service(invoices::routes::list_invoices)
        .service(invoices::routes::get_invoice)
        .service(invoices::routes::update_invoice)
        .service(invoices::routes::delete_invoice)
        .service(invoices::routes::issue_invoice)
        .service(invoices::routes::void_invoice)
        .service(invoices::document::invoice_document)
        .service(invoices::presentments::create_presentment)
        .service(invoices::presentments::list_presentments)
        .service(payments::routes::create_payment)
        .service(payments::routes::list_payments)
        .service(payments::routes::get_payment)
        .service(payments::routes::create_application)
        .service(payments::routes::reverse_application)
        .service(payments::routes::create_refund)
        .service(payments::routes::return_payment)
        .service(payments::deductions::list_deductions)
        .service(payments::deductions::get_deduction)
        .service(payments::deductions::write_off_deduction)
        .service(credit_memos::routes::create_credit_memo)
        .service(credit_memos::routes::list_credit_memos)
        .service(credit_memos::routes::get_credit_memo)
        .service(credit_memos::routes::issue_credit_memo)
        .service(credit_memos::routes::approve_credit_memo)
        .service(credit_memos::routes::reject_credit_memo)
        .service(credit_memos::routes::apply_credit_memo)
        .service(credit_memos::routes::refund_credit_memo)
        .service(credit_memos::routes::void_credit_memo)
        .service(credit_memos::routes::credit_memo_document)
        .service(credit::routes::create_credit_review)
        .service(credit::routes::list_account_credit_reviews)
        .service(credit::routes::list_credit_reviews)
        .service(credit::routes::get_credit_review)
        .service(credit::routes::approve_credit_review)
        .service(credit::routes::decline_credit_review)
        .service(credit::routes::escalate_credit_review)
        .service(credit::routes::list_due_reviews)
        .service(credit::routes::get_credit_profile)
        .service(credit::routes::list_credit_holds)
        .service(credit::routes::place_credit_hold)
        .service(credit::routes::release_credit_hold)
        .service(disputes::routes::create_dispute)
        .service(disputes::routes::dispute_deduction)
        .service(disputes::routes::list_disputes)
        .service(disputes::routes::get_dispute)
        .service(disputes::routes::update_dispute)
        .service(disputes::routes::review_dispute)
        .service(disputes::routes::add_note)
        .service(disputes::routes::resolve_dispute)
        .service(disputes::routes::withdraw_dispute)
        .service(adjustments::routes::create_adjustment)
        .service(adjustments::routes::list_adjustments)
        .service(adjustments::routes::get_adjustment)
        .service(collections::aging::aging)
        .service(reports::routes::kpi_report)
        .service(reports::routes::past_due_report)
        .service(reports::routes::cash_receipts_report)
        .service(reports::routes::credits_report)
        .service(reports::routes::disputes_report)
        .service(reports::routes::collector_performance_report)
        .service(reports::routes::goals_report)
        .service(reports::aging::routes::aging_summary_report)
        .service(reports::aging::routes::aging_detail_report)
        .service(reports::schedules::routes::create_report_schedule)
        .service(reports::schedules::routes::list_report_schedules)
        .service(reports::schedules::routes::get_report_schedule)
        .service(reports::schedules::routes::update_report_schedule)
        .service(reports::schedules::routes::run_due_reports)
        .service(reports::schedules::routes::list_report_runs)
        .service(reports::schedules::routes::get_report_run)
        .service(reports::schedules::routes::download_report_run)
        .service(collections::goals::routes::create_collection_goal)
        .service(collections::goals::routes::list_collection_goals)
        .service(collections::goals::routes::get_collection_goal)
        .service(collections::goals::routes::update_collection_goal)
        .service(collections::profiles::worklist::worklist)
        .service(collections::profiles::get_collections_account)
        .service(collections::profiles::update_profile)
        .service(collections::profiles::create_rule)
        .service(collections::profiles::list_rules)
        .service(collections::profiles::apply_rules)
        .service(collections::profiles::delete_rule)
        .service(collections::notes::create_note)
        .service(collections::notes::list_notes)
        .service(collections::dunning::create_policy)
        .service(collections::dunning::list_policies)
        .service(collections::dunning::get_policy)
        .service(collections::dunning::update_policy)
        .service(collections::dunning::runs::create_dunning_run)
        .service(collections::dunning::runs::list_dunning_runs)
        .service(collections::dunning::runs::list_notices)
        .service(collections::dunning::runs::get_notice)
        .service(collections::dunning::runs::notice_document)
        .service(collections::promises::routes::create_promise)
        .service(collections::promises::routes::list_promises)
        .service(collections::promises::routes::get_promise)
        .service(collections::promises::routes::cancel_promise)
        .service(collections::service_orders::routes::create_order)
        .service(collections::service_orders::routes::list_orders)
        .service(collections::service_orders::routes::get_order)
        .service(collections::service_orders::routes::send_order)
        .service(collections::service_orders::routes::complete_order)
        .service(collections::service_orders::routes::cancel_order)
        .service(collections::placements::routes::create_placement)
        .service(collections::placements::routes::list_placements)
        .service(collections::placements::routes::get_placement)
        .service(collections::placements::routes::create_recovery)
        .service(collections::placements::routes::recall_placement)
        .service(tasks::routes::create_task)
        .service(tasks::routes::list_tasks)
        .service(tasks::routes::get_task)
        .service(tasks::routes::update_task)
        .service(integrations::crm::routes::receive_crm_event)
        .service(integrations::crm::routes::list_crm_events)
        .service(integrations::crm::routes::get_crm_event)
        .service(integrations::crm::routes::retry_crm_event)
        // A contract's documents have a scope of their own so that their upload may be up to
        // 10 MiB; every other body stays under the JSON limit.
        .service(
            scope::scope("/contracts/{id}/documents")
                .app_data(web::PayloadConfig::new(
                    contracts::documents::MAX_DOCUMENT_BYTES,
                ))
                .service(contracts::documents::upload_contract_document)
                .service(contracts::documents::list_contract_documents)
                .service(contracts::documents::download_contract_document),
        )
        .service(
            scope::scope("/disputes/{id}/attachments")
                .app_data(web::PayloadConfig::new(
                    contracts::documents::MAX_DOCUMENT_BYTES,
                ))
                .service(disputes::attachments::upload_attachment)
                .service(disputes::attachments::list_attachments)
                .service(disputes::attachments::download_attachment),
        )
        .service(
            scope::scope("/credit-reviews/{id}/documents")
                .app_data(web::PayloadConfig::new(
                    contracts::documents::MAX_DOCUMENT_BYTES,
                ))
                .service(credit::documents::upload_review_document)
                .service(credit::documents::list_review_documents)
                .service(credit::documents::download_review_document),
        )
        // A bank file may be up to 20 MiB.
        .service(
            scope::scope("/bank-files")
                .app_data(web::PayloadConfig::new(bank_files::upload::MAX_FILE_BYTES))
                .service(bank_files::routes::import_bank_file)
                .service(bank_files::routes::list_bank_files)
                .service(bank_files::routes::get_bank_file)
                .service(bank_files::routes::list_bank_transactions),
        )
        .service(bank_files::routes::list_unidentified_payments)
        .service(bank_files::routes::assign_unidentified_payment)
        .service(integrations::webhooks::routes::create_endpoint)
        .service(integrations::webhooks::routes::list_endpoints)
        .service(integrations::webhooks::routes::get_endpoint)
        .service(integrations::webhooks::routes::update_endpoint)
        .service(integrations::webhooks::routes::delete_endpoint)
        .service(integrations::webhooks::routes::rotate_secret)
        .service(integrations::webhooks::routes::list_deliveries)
        .service(integrations::webhooks::routes::resend_delivery)
        .service(audit::routes::list_audit_events);
}

/// Operations endpoints outside `/v1`.
fn operations(cfg: &mut ServiceConfig) {
    operations_but_metrics(cfg);
    cfg.service(operations::metrics);
}

/// Operations endpoints outside `/v1`, without `/metrics` (served on its own address).
fn operations_but_metrics(cfg: &mut ServiceConfig) {
    cfg.service(operations::healthz)
        .service(operations::readyz)
        .service(operations::openapi_json);
}

/// The OpenAPI document the code generates (served at `/v1/openapi.json`, committed as
/// `openapi/openapi.json`).
pub fn openapi_spec() -> utoipa::openapi::OpenApi {
    let (_, spec) = App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(operations)
        .service(scope::scope("/v1").configure(v1))
        .split_for_parts();
    let mut spec = spec;
    openapi::add_shared_rules(&mut spec);
    spec
}

/// The document as served and committed: [`openapi_spec`] with the rules of request bodies
/// that the Rust types cannot carry ([`openapi::add_body_rules`]).
pub fn openapi_json() -> String {
    serde_json::to_string_pretty(&openapi::add_body_rules(&openapi_spec()))
        .expect("the OpenAPI document serialises")
        + "\n"
}

/// A running HTTP server and the port it listens on.
pub struct Application {
    pub port: u16,
    pub server: Server,
    /// With `METRICS_ADDRESS`: the port `/metrics` is served on, alone (that server runs
    /// beside `server`; both stop on SIGTERM, or by [`Application::handle`]).
    pub metrics_port: Option<u16>,
    metrics_handle: Option<ServerHandle>,
}

/// Stops the service's servers: the API's and, with `METRICS_ADDRESS`, the metrics one.
#[derive(Clone)]
pub struct Handles {
    api: ServerHandle,
    metrics: Option<ServerHandle>,
}

impl Handles {
    /// Tells every server to stop at once; the future completes when they have.
    pub fn stop(&self, graceful: bool) -> impl std::future::Future<Output = ()> {
        let api = self.api.stop(graceful);
        let metrics = self.metrics.as_ref().map(|m| m.stop(graceful));
        async move {
            api.await;
            if let Some(metrics) = metrics {
                metrics.await;
            }
        }
    }
}

impl Application {
    /// Binds the listener and builds the server; `run` (or awaiting `server`) serves. Every
    /// date and timestamp of the service comes from `clock` (`Clock::system()` in production).
    pub fn build(
        config: Config,
        pool: DbPool,
        listener: TcpListener,
        clock: Clock,
    ) -> Result<Application, String> {
        let keys = web::Data::new(KeySet::from_settings(&config.jwt)?);
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let spec = openapi_spec();
        let billing_wakeup = Arc::new(tokio::sync::Notify::new());
        billing::worker::spawn(
            pool.clone(),
            config.billing.clone(),
            billing_wakeup.clone(),
            clock.clone(),
        );
        collections::dunning::runs::spawn(
            pool.clone(),
            config.collections.dunning_interval_minutes,
            clock.clone(),
            credit::service::Job::of(&config),
        );
        reports::schedules::service::spawn(
            pool.clone(),
            config.reports.schedule_interval_minutes,
            clock.clone(),
        );
        integrations::webhooks::worker::spawn(pool.clone(), config.webhooks.clone(), clock.clone());
        let routes = Arc::new(RouteTable::from_spec(&spec));
        let read_pool = match &config.database_read_url {
            Some(url) => db::pool(url, config.pool_size)?,
            None => pool.clone(),
        };
        let state = web::Data::new(AppState {
            billing_wakeup,
            clock: clock.clone(),
            pool,
            read_pool,
            routes: routes.clone(),
            openapi_json: openapi::add_body_rules(&spec).to_string(),
            metrics: web::Data::new(Metrics::default()),
            config: config.clone(),
        });
        let json_limit = config.json_limit;
        let metrics_apart = config.metrics_address.is_some();
        let metrics = match config.metrics_address {
            None => None,
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .map_err(|e| format!("cannot bind METRICS_ADDRESS {address}: {e}"))?;
                let port = listener.local_addr().map_err(|e| e.to_string())?.port();
                let state = state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .service(operations::metrics)
                })
                .workers(1)
                .listen(listener)
                .map_err(|e| e.to_string())?
                .run();
                Some((port, server))
            }
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(keys.clone())
                .app_data(state.metrics.clone())
                .app_data(extract::JsonLimit(json_limit))
                .app_data(clock.clone())
                .app_data(web::Data::from(routes.clone()))
                .app_data(web::PathConfig::default().error_handler(extract::path_error))
                .app_data(web::PayloadConfig::new(json_limit))
                .wrap(middleware::from_fn(observability::middleware))
                .configure(|cfg| {
                    let mut cfg = ServiceConfig::new(cfg);
                    if metrics_apart {
                        operations_but_metrics(&mut cfg);
                    } else {
                        operations(&mut cfg);
                    }
                })
                .service(web::scope("/v1").configure(|cfg| v1(&mut ServiceConfig::new(cfg))))
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(utoipa_swagger_ui::Config::new(["/v1/openapi.json"])),
                )
                .route("/docs", web::get().to(operations::docs_redirect))
                .default_service(web::to(operations::unmatched))
        })
        .workers(
            config
                .workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        )
        .shutdown_timeout(30)
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        let (metrics_port, metrics_handle) = match metrics {
            Some((port, metrics)) => {
                let handle = metrics.handle();
                tokio::spawn(metrics);
                (Some(port), Some(handle))
            }
            None => (None, None),
        };
        Ok(Application {
            port,
            server,
            metrics_port,
            metrics_handle,
        })
    }

    pub fn handle(&self) -> Handles {
        Handles {
            api: self.server.handle(),
            metrics: self.metrics_handle.clone(),
        }
    }
}

/// Removes expired idempotency keys every hour while the server runs.
pub fn spawn_housekeeping(pool: DbPool, ttl_hours: i32, clock: Clock) {
    let pool = Arc::new(pool);
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match db::conn(&pool).await {
                Ok(mut conn) => {
                    match idempotency::purge_expired(&mut conn, ttl_hours, clock.now()).await {
                        Ok(n) if n > 0 => log::info!("removed {n} expired idempotency keys"),
                        Ok(_) => {}
                        Err(e) => log::warn!("idempotency key purge failed: {e}"),
                    }
                }
                Err(e) => log::warn!("idempotency key purge: {e}"),
            }
        }
    });
}
