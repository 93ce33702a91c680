//! Which Ingresses are ours: `spec.ingressClassName`, the legacy
//! `kubernetes.io/ingress.class` annotation, and the default IngressClass.

use std::collections::HashSet;

use k8s_openapi::api::networking::v1::Ingress;

use super::TranslateOptions;
use crate::cluster::ClusterState;

pub const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Decides, from the IngressClasses present, whether an Ingress is ours.
pub struct ClassFilter<'a> {
    /// IngressClass names whose `spec.controller` is ours.
    ours: HashSet<&'a str>,
    /// IngressClass names that exist with another controller.
    theirs: HashSet<&'a str>,
    /// One of our IngressClasses is the cluster default.
    default_is_ours: bool,
    opts: &'a TranslateOptions,
}

impl<'a> ClassFilter<'a> {
    pub fn new(state: &'a ClusterState, opts: &'a TranslateOptions) -> Self {
        let mut ours = HashSet::new();
        let mut theirs = HashSet::new();
        let mut default_is_ours = false;
        for class in &state.ingress_classes {
            let Some(name) = class.metadata.name.as_deref() else {
                continue;
            };
            let controller = class.spec.as_ref().and_then(|s| s.controller.as_deref());
            if controller == Some(opts.controller_name.as_str()) {
                ours.insert(name);
                let is_default = class
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                    .is_some_and(|v| v == "true");
                default_is_ours |= is_default;
            } else {
                theirs.insert(name);
            }
        }
        Self { ours, theirs, default_is_ours, opts }
    }

    /// A class name is ours when its IngressClass names our controller, or
    /// when no IngressClass of that name exists and it is `--ingress-class`
    /// (so a directory of Ingresses works without an IngressClass object).
    fn is_our_class(&self, class: &str) -> bool {
        self.ours.contains(class) || (class == self.opts.ingress_class && !self.theirs.contains(class))
    }

    pub fn selects(&self, ingress: &Ingress) -> bool {
        if let Some(class) = ingress.spec.as_ref().and_then(|s| s.ingress_class_name.as_deref()) {
            return self.is_our_class(class);
        }
        let legacy = ingress.metadata.annotations.as_ref().and_then(|a| a.get(LEGACY_CLASS_ANNOTATION));
        if let Some(class) = legacy {
            return self.is_our_class(class);
        }
        self.default_is_ours || self.opts.watch_ingress_without_class
    }
}
