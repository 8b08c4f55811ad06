//! The Splunk app: renders the shipped `.conf` files from the detection YAML (the way
//! contentctl does) and builds the package.
