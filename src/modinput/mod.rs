//! The `netdiscover_input` modular input: scheme, argument validation, checkpointed
//! streaming of process events into Splunk.
