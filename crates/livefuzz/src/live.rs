//! A target being fuzzed: opened through `mqtt-targets`, checked to be
//! plain TCP on loopback (or an address the user named), restarted when it
//! dies and the harness started it.

use std::net::SocketAddr;

use mqtt_codec::ProtocolVersion;
use mqtt_targets::{Target, TargetsFile, VersionTag};

use crate::error::FuzzError;
use crate::options::CampaignOptions;

/// A target being fuzzed.
pub(crate) struct Live {
    /// As given on the command line.
    pub(crate) spec: String,
    pub(crate) target: Option<Target>,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    pub(crate) versions: Vec<VersionTag>,
    /// Started by the harness, so it can be started again.
    pub(crate) restartable: bool,
}

impl Live {
    pub(crate) async fn open(spec: &str, opts: &CampaignOptions) -> Result<Live, FuzzError> {
        let targets =
            TargetsFile::load(&opts.targets_file).map_err(|e| FuzzError::Target(e.to_string()))?;
        let target = Target::open(spec, &targets, &opts.work)
            .await
            .map_err(|e| FuzzError::Target(e.to_string()))?;
        let ep = &target.endpoint;
        if ep.scheme != mqtt_client::Scheme::Tcp {
            return Err(FuzzError::Target(format!(
                "{spec}: the live fuzzer speaks plain TCP only, not {}",
                ep.scheme.as_str()
            )));
        }
        let addr = tokio::net::lookup_host((ep.host.as_str(), ep.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| FuzzError::Target(format!("{spec}: cannot resolve {}", ep.host)))?;
        if !addr.ip().is_loopback() && !spec.contains("://") {
            return Err(FuzzError::Target(format!(
                "{spec}: {addr} is not a loopback address"
            )));
        }
        Ok(Live {
            spec: spec.to_owned(),
            versions: target.versions.clone(),
            restartable: !spec.contains("://"),
            target: Some(target),
            addr,
        })
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.target.as_ref().and_then(Target::process_id)
    }

    pub(crate) fn probe_version(&self) -> ProtocolVersion {
        self.versions
            .first()
            .map_or(ProtocolVersion::V311, |v| v.protocol())
    }

    pub(crate) async fn restart(&mut self, opts: &CampaignOptions) -> Result<(), FuzzError> {
        if let Some(t) = self.target.take() {
            t.stop().await;
        }
        let fresh = Live::open(&self.spec, opts).await?;
        *self = fresh;
        Ok(())
    }
}
