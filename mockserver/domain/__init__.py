"""What the mock models: generations, their inputs, lifecycles, outcomes and prices."""
