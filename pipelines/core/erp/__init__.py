"""Reading ERP export drops into clean, typed frames plus a rejects list."""
